package cluster

import (
	"encoding/base32"
	"net"
	"strings"

	"github.com/google/uuid"
)

// idCodec writes the owner's remote address into request ids as base32
// (the extended-hex alphabet, lower case, no padding: [0-9a-v]), then "_",
// then a random UUID, so any node finds the owner without a lookup.
var idCodec = base32.HexEncoding.WithPadding(base32.NoPadding)

// encodeAddr is the id prefix for a node's address.
func encodeAddr(addr string) string {
	return strings.ToLower(idCodec.EncodeToString([]byte(addr)))
}

// newID makes a request id owned by the node with the given prefix.
func newID(prefix string) string { return prefix + "_" + uuid.NewString() }

// ownerAddr returns the address an id names, or "" when it names none (a
// one-node id, or anything a client made up).
func ownerAddr(id string) string {
	prefix, _, ok := strings.Cut(id, "_")
	if !ok || prefix == "" || len(prefix) > 128 {
		return ""
	}
	b, err := idCodec.DecodeString(strings.ToUpper(prefix))
	if err != nil {
		return ""
	}
	addr := string(b)
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return ""
	}
	return addr
}
