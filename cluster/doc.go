// Package cluster makes several Armistice nodes one server, on
// proto.actor's own cluster (membership) and remote (transport).
//
// A request lives on the node that admitted it, and its id names that
// node: NewID prefixes a random id with the node's remote address,
// encoded. Any node's Engine (through SetPeers) carries a status, log,
// cancel or delete for another node's id to that node's gateway, and
// follows its log through a relay on its own side and a proxy on the
// owner's, with the same credit window as a local subscription. What
// crosses the network is protobuf (package wire); inside a node messages
// stay plain Go.
//
// When membership drops the owner, every relay following one of its
// requests hands its reader an end record failed/node_lost, and reads of
// its ids answer that status for PickupTimeout (a tombstone per node, not
// per request). The LLM call is never re-run elsewhere. A connection blip
// that leaves the owner in membership is survived by subscribing again
// from the relay's cursor.
package cluster
