package cluster

import (
	"fmt"
	"net"
	"strings"
	"time"

	protocluster "github.com/asynkron/protoactor-go/cluster"
)

// Mode selects how nodes find each other.
type Mode string

// The modes.
const (
	// ModeOff: one node, no cluster (the default).
	ModeOff Mode = "off"
	// ModeAutomanaged: a fixed list of peers' membership endpoints, no
	// external service (proto.actor's automanaged provider).
	ModeAutomanaged Mode = "automanaged"
	// ModeEtcd: membership kept in etcd.
	ModeEtcd Mode = "etcd"
)

// Config configures a node. Start from DefaultConfig.
type Config struct {
	// Mode is off, automanaged or etcd. Default off.
	Mode Mode
	// Name: nodes with the same name form one cluster. Default
	// "armistice".
	Name string
	// Addr is host:port of this node's remote (gRPC) endpoint, also what
	// peers dial, so the host must be reachable by them. Port 0 picks a
	// free port. Default 127.0.0.1:0.
	Addr string
	// Peers (automanaged) are host:port of every node's membership
	// endpoint, this one's included.
	Peers []string
	// MembershipAddr (automanaged) is host:port this node serves its
	// membership endpoint on; required in automanaged mode.
	MembershipAddr string
	// Etcd (etcd) are the etcd endpoints.
	Etcd []string
	// Refresh is how often membership is checked (automanaged: each
	// peer's endpoint is asked; etcd: a node's lease lives 2 x Refresh,
	// in whole seconds and at least 1 s, or etcd's minimum if higher). It
	// bounds how long a dead node stays a member. Default 500 ms.
	Refresh time.Duration
	// Tombstone is how long ids of a node that left answer
	// failed/node_lost before they answer not found. The server sets it
	// to the engine's PickupTimeout. Default 10 min.
	Tombstone time.Duration
	// Unreachable is how long a relay whose owner cannot be reached, but
	// is still a member, keeps trying to subscribe again before it ends
	// its reader's stream as failed/node_lost. Default 10 s.
	Unreachable time.Duration
	// Provider, when set, is the membership provider to use instead of
	// the one Mode names (tests use proto.actor's in-process test
	// provider); Mode must then not be off.
	Provider protocluster.ClusterProvider
}

// DefaultConfig returns the defaults (mode off).
func DefaultConfig() Config {
	return Config{
		Mode:        ModeOff,
		Name:        "armistice",
		Addr:        "127.0.0.1:0",
		Refresh:     500 * time.Millisecond,
		Tombstone:   10 * time.Minute,
		Unreachable: 10 * time.Second,
	}
}

// Enabled reports whether the config asks for a cluster.
func (c Config) Enabled() bool { return c.Mode != ModeOff && c.Mode != "" }

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch c.Mode {
	case ModeOff, "":
		return nil
	case ModeAutomanaged, ModeEtcd:
	default:
		return fmt.Errorf("%w: unknown cluster mode %q (off, automanaged or etcd)", ErrInvalidConfig, c.Mode)
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/ ") {
		return fmt.Errorf("%w: cluster name %q must be non-empty, without spaces or slashes", ErrInvalidConfig, c.Name)
	}
	host, _, err := splitHostPort("cluster address", c.Addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("%w: cluster address %q: peers dial it, so it needs a host they can reach (not %q)", ErrInvalidConfig, c.Addr, host)
	}
	switch {
	case c.Refresh <= 0:
		return fmt.Errorf("%w: Refresh must be positive, got %s", ErrInvalidConfig, c.Refresh)
	case c.Tombstone <= 0:
		return fmt.Errorf("%w: Tombstone must be positive, got %s", ErrInvalidConfig, c.Tombstone)
	case c.Unreachable <= 0:
		return fmt.Errorf("%w: Unreachable must be positive, got %s", ErrInvalidConfig, c.Unreachable)
	}
	if c.Provider != nil {
		return nil
	}
	switch c.Mode {
	case ModeAutomanaged:
		if c.MembershipAddr == "" {
			return fmt.Errorf("%w: automanaged needs a membership address (--cluster-membership-addr)", ErrInvalidConfig)
		}
		if _, port, err := splitHostPort("membership address", c.MembershipAddr); err != nil {
			return err
		} else if port == 0 {
			return fmt.Errorf("%w: the membership address needs a fixed port (peers list it), got %q", ErrInvalidConfig, c.MembershipAddr)
		}
		if len(c.Peers) == 0 {
			return fmt.Errorf("%w: automanaged needs its peers (--cluster-peers), this node's membership address included", ErrInvalidConfig)
		}
		for _, p := range c.Peers {
			if _, _, err := splitHostPort("peer", p); err != nil {
				return err
			}
		}
	case ModeEtcd:
		if len(c.Etcd) == 0 {
			return fmt.Errorf("%w: etcd mode needs endpoints (--cluster-etcd)", ErrInvalidConfig)
		}
	}
	return nil
}

func splitHostPort(what, addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s %q: %w", ErrInvalidConfig, what, addr, err)
	}
	var n int
	if _, err := fmt.Sscanf(port, "%d", &n); err != nil || n < 0 || n > 65535 || fmt.Sprint(n) != port {
		return "", 0, fmt.Errorf("%w: %s %q: bad port", ErrInvalidConfig, what, addr)
	}
	return host, n, nil
}
