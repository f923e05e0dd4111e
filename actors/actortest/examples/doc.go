// Package examples holds the user actors of the second tutorial in
// docs/testing.md: a proto.actor user's own actors, not Armistice's,
// tested with actortest. A Teller pays withdrawals from an Account; a
// Cashier takes payments through a gateway with a 2 s timeout. Each comes
// in the versions the tutorial goes through (racy, half fixed, fixed), and
// examples_test.go finds each bug, replays it from its seed and verifies
// the fix.
package examples
