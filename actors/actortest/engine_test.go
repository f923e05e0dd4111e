package actortest_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/armistice-go/armistice/actors"
	. "github.com/armistice-go/armistice/actors/actortest"
	"github.com/armistice-go/armistice/llm"
	"github.com/armistice-go/armistice/model"
	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
)

const owner = "t"

// retention is longer than MaxSteps horizons.
const retention = 3 * 20000 * time.Hour

func spec(prompt string, policy model.DisconnectPolicy) actors.Spec {
	return actors.Spec{Messages: []llm.Message{{Role: llm.RoleUser, Content: prompt}}, OnDisconnect: policy}
}

// engine spawns Armistice's supervisor in the world. Retention (Linger,
// PickupTimeout) outlasts any run (time may jump a horizon, 1 h, at each
// of at most MaxSteps steps): a request never expires during a run, so
// any "not found" is a bug, and a subscriber that never got its end is
// still waiting when the world goes quiet, where liveness sees it.
func engine(w *World, up llm.Provider, mut func(*actors.Config)) *actor.PID {
	cfg := actors.DefaultConfig(up)
	n := 0
	cfg.NewID = func() string { n++; return fmt.Sprintf("r%d", n) }
	cfg.Logger = zerolog.New(w.Logs.Writer()).Level(zerolog.InfoLevel)
	cfg.Linger, cfg.PickupTimeout = retention, 2*retention
	if mut != nil {
		mut(&cfg)
	}
	props, err := actors.SupervisorProps(cfg)
	if err != nil {
		w.Fail("config: %v", err)
	}
	sup, err := w.SpawnNamed(props, "armistice")
	if err != nil {
		w.Fail("spawn: %v", err)
	}
	return sup
}

// checks installs the safety and liveness checks every engine scenario
// shares: clean logs (no gap, duplicate or record after the end) that
// agree between readers of one request; cancels answered truthfully; no
// "not found" for a request that exists; every reader still attached at
// the end has its end record.
func checks(w *World, sup *actor.PID, readers []*Client, cancellers ...*Client) {
	w.Invariant("clean, agreeing logs", func() error {
		for _, c := range append(readers, cancellers...) {
			if err := c.Check(); err != nil {
				return err
			}
		}
		return Agree(readers...)
	})
	w.Invariant("honest cancel and lookups", func() error {
		for _, c := range append(readers, cancellers...) {
			for _, r := range c.Replies() {
				if e, ok := r.Message.(*actors.Error); ok && errors.Is(e, actors.ErrNotFound) {
					return fmt.Errorf("%s was told %v after %s", c.Name, e, r.Op)
				}
			}
		}
		for _, r := range readers {
			end := r.End()
			if end == nil {
				continue
			}
			for _, c := range cancellers {
				for _, reply := range c.Replies() {
					if reply.Op != "cancel" {
						continue
					}
					switch m := reply.Message.(type) {
					case *actors.Snapshot:
						if m.State != model.StateCancelled {
							return fmt.Errorf("cancel succeeded with state %s", m.State)
						}
						if end.Status != model.StatusCancelled {
							return fmt.Errorf("cancel answered cancelled, but %s read end %s/%s", r.Name, end.Status, end.Reason)
						}
					case *actors.Error:
						if errors.Is(m, actors.ErrAlreadyFinished) && end.State != model.StateDone {
							return fmt.Errorf("cancel answered already finished, but %s read end %s/%s", r.Name, end.Status, end.Reason)
						}
					}
				}
			}
		}
		return nil
	})
	w.Eventually("every request reached a terminal state", func() error {
		for _, c := range readers {
			if c.ID == "" {
				continue
			}
			a, err := w.Ask(sup, &actors.GetStatus{ID: c.ID, Owner: owner})
			if err != nil {
				return err
			}
			if e, ok := a.(*actors.Error); ok && errors.Is(e, actors.ErrNotFound) && c.Ended() {
				continue // it ended and stopped (a crash stops a request at once)
			}
			snap, ok := a.(*actors.Snapshot)
			if !ok {
				return fmt.Errorf("status of %s: %v", c.ID, a)
			}
			if !snap.State.Terminal() {
				return fmt.Errorf("%s is still %s", c.ID, snap.State)
			}
		}
		return nil
	})
	w.Eventually("every attached reader has its end", func() error {
		for _, r := range readers {
			if r.Attached() && !r.Ended() {
				return fmt.Errorf("%s is attached and waits forever (read %d records)", r.Name, len(r.Records()))
			}
		}
		return nil
	})
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
