package main

import "time"

// plan sizes every scenario. quickPlan runs in under 3 minutes on 2
// cores, fullPlan in under 20; tinyPlan is the smoke test's.
type plan struct {
	Mode   string
	Rounds int // rounds of the cheap scenarios

	PerTokenRounds int
	PerTokenTokens int

	RelayTokens  int
	RelayStreams int // per system per round

	TTFTTokens   int
	TTFTRequests int // sequential, per system per round

	TTFT200Streams  int           // concurrent streams
	TTFT200Tokens   int           // tokens per stream
	TTFT200Rate     float64       // tokens per second per stream
	TTFT200Duration time.Duration // per system per round
	TTFT200Rounds   int

	ConcStreams int // target N
	ConcRate    float64
	ConcRamp    time.Duration // starts are spread over it
	ConcSteady  time.Duration // the measured window after the ramp
	ConcRounds  int
	// ConcTryMax adds one round at the largest N the open-file limit
	// allows (the 10,000 stretch), with direct and Armistice.
	ConcTryMax int
	// ConcLadder are the N of one short round each (ramp, window), to
	// find how many streams each system sustains.
	ConcLadder       []int
	ConcLadderRamp   time.Duration
	ConcLadderWindow time.Duration
	// CompareRounds is how many rounds every stream count up to the
	// comparison's (compareStreams, in the ladder or the main run) gets:
	// one window decides too little on a shared machine.
	CompareRounds int

	IdleStreams int
	IdleSteps   int
	IdleRounds  int

	ChurnCycles  int
	ChurnStreams int // per cycle, a third of each kind
	// ChurnPickup is how long a result nobody read stays (PickupTimeout,
	// the baseline's pickup window): long enough for a client attaching
	// late under a cycle's burst of starts; disconnected requests are
	// only removed after it.
	ChurnPickup time.Duration

	ResumeRecords    int
	ResumeReconnects int // per round

	CancelCount int // per system per round

	// The cluster scenario (three node processes): tokens per relay
	// stream, relay streams and sequential TTFT requests per path per
	// round, how many times the owner is killed, and how many of its
	// requests are each read through both other nodes when it is.
	ClusterRelayTokens  int
	ClusterRelayStreams int
	ClusterTTFTRequests int
	ClusterKills        int
	ClusterKillStreams  int

	// CompareWindow, when set, is the measured window of every round at
	// compareStreams, the ladder's rung or the main run
	// (--compare-window).
	CompareWindow time.Duration

	// NoPrewarm skips warming protoactor's registry (registry.go) in each
	// Armistice system: the smoke test's shortcut.
	NoPrewarm bool
}

func quickPlan() plan {
	return plan{
		Mode: "quick", Rounds: 3,
		PerTokenRounds: 3, PerTokenTokens: 200_000,
		RelayTokens: 2000, RelayStreams: 10,
		TTFTTokens: 20, TTFTRequests: 200,
		TTFT200Streams: 200, TTFT200Tokens: 100, TTFT200Rate: 100, TTFT200Duration: 2 * time.Second, TTFT200Rounds: 2,
		ConcStreams: 1000, ConcRate: 50, ConcRamp: 2 * time.Second, ConcSteady: 3 * time.Second, ConcRounds: 1,
		ConcLadder: []int{100, 300}, ConcLadderRamp: time.Second, ConcLadderWindow: 2 * time.Second, CompareRounds: 3,
		IdleStreams: 2000, IdleSteps: 4, IdleRounds: 1,
		ChurnCycles: 4, ChurnStreams: 300, ChurnPickup: 3 * time.Second,
		ResumeRecords: 4000, ResumeReconnects: 300,
		CancelCount:        100,
		ClusterRelayTokens: 2000, ClusterRelayStreams: 10, ClusterTTFTRequests: 200, ClusterKills: 5, ClusterKillStreams: 2,
	}
}

func fullPlan() plan {
	return plan{
		Mode: "full", Rounds: 5,
		PerTokenRounds: 7, PerTokenTokens: 1_000_000,
		RelayTokens: 2000, RelayStreams: 20,
		TTFTTokens: 20, TTFTRequests: 500,
		TTFT200Streams: 200, TTFT200Tokens: 100, TTFT200Rate: 100, TTFT200Duration: 4 * time.Second, TTFT200Rounds: 3,
		ConcStreams: 5000, ConcRate: 50, ConcRamp: 5 * time.Second, ConcSteady: 10 * time.Second, ConcRounds: 2,
		ConcLadder: []int{100, 250, 500, 750, compareStreams}, ConcLadderRamp: time.Second, ConcLadderWindow: 3 * time.Second, CompareRounds: 3,
		ConcTryMax:  10000,
		IdleStreams: 10000, IdleSteps: 5, IdleRounds: 3,
		ChurnCycles: 20, ChurnStreams: 1000, ChurnPickup: 3 * time.Second,
		ResumeRecords: 4000, ResumeReconnects: 1000,
		CancelCount:        200,
		ClusterRelayTokens: 2000, ClusterRelayStreams: 20, ClusterTTFTRequests: 500, ClusterKills: 12, ClusterKillStreams: 3,
	}
}

// windowAt is the measured window of a concurrent run of n streams:
// CompareWindow at compareStreams when it is set, else window.
func (p plan) windowAt(n int, window time.Duration) time.Duration {
	if n == compareStreams && p.CompareWindow > 0 {
		return p.CompareWindow
	}
	return window
}

// roundsAt is how many rounds a concurrent run of n streams gets: rounds,
// or CompareRounds up to the comparison's stream count if that is more.
func (p plan) roundsAt(n, rounds int) int {
	if n <= compareStreams {
		return max(rounds, p.CompareRounds)
	}
	return rounds
}

// tinyPlan runs every scenario at a few streams and tokens (the smoke
// test).
func tinyPlan() plan {
	return plan{
		Mode: "tiny", Rounds: 1,
		PerTokenRounds: 1, PerTokenTokens: 2000,
		RelayTokens: 50, RelayStreams: 2,
		TTFTTokens: 5, TTFTRequests: 5,
		TTFT200Streams: 4, TTFT200Tokens: 5, TTFT200Rate: 100, TTFT200Duration: 300 * time.Millisecond, TTFT200Rounds: 1,
		ConcStreams: 4, ConcRate: 50, ConcRamp: 100 * time.Millisecond, ConcSteady: 200 * time.Millisecond, ConcRounds: 1,
		IdleStreams: 4, IdleSteps: 2, IdleRounds: 1,
		ChurnCycles: 1, ChurnStreams: 6, ChurnPickup: 500 * time.Millisecond,
		ResumeRecords: 200, ResumeReconnects: 5,
		CancelCount:        3,
		ClusterRelayTokens: 50, ClusterRelayStreams: 2, ClusterTTFTRequests: 5, ClusterKills: 1, ClusterKillStreams: 1,
		NoPrewarm: true,
	}
}
