package examples

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
)

// PaymentTimeout is how long the cashier waits for the gateway.
const PaymentTimeout = 2 * time.Second

// The cashier's messages.
type (
	// Checkout asks the cashier to take a payment for Order.
	Checkout struct{ Order string }
	// Authorise asks the payment gateway to authorise Order.
	Authorise struct{ Order string }
	// Authorised is the gateway's answer.
	Authorised struct{ Order string }
	// paymentTimedOut is the cashier's own timer message.
	paymentTimedOut struct{ Order string }
)

// Version selects one of the cashier's versions in the tutorial.
type Version int

// The versions.
const (
	// Naive charges on every authorisation, even one that comes after
	// the order was cancelled for a timeout.
	Naive Version = iota
	// HalfFixed ignores a late authorisation, and cancels its timer when
	// the authorisation comes in time; but it trusts that cancel: on a
	// timeout it cancels the order without looking. A timer that had
	// already fired has its message queued, and cancel cannot take it
	// back, so a charged order can still be cancelled.
	HalfFixed
	// Fixed checks the order's state on both messages: whichever comes
	// first decides, the other is ignored.
	Fixed
)

func (v Version) String() string {
	return [...]string{"naive", "half-fixed", "fixed"}[v]
}

// OrderState is where an order stands.
type OrderState int

// The order states.
const (
	Awaiting OrderState = iota + 1
	Charged
	Cancelled
)

// Cashier takes payments. Orders is read between steps by tests;
// Charges and Cancels count what was done to each order.
type Cashier struct {
	Gateway *actor.PID
	Version Version

	Orders  map[string]OrderState
	Charges map[string]int
	Cancels map[string]int

	timers map[string]scheduler.CancelFunc
}

// Receive handles checkouts, authorisations and timeouts.
func (k *Cashier) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		k.Orders, k.Charges, k.Cancels = map[string]OrderState{}, map[string]int{}, map[string]int{}
		k.timers = map[string]scheduler.CancelFunc{}
	case Checkout:
		k.Orders[m.Order] = Awaiting
		c.Request(k.Gateway, Authorise(m))
		k.timers[m.Order] = scheduler.NewTimerScheduler(c).SendOnce(PaymentTimeout, c.Self(), paymentTimedOut(m))
	case Authorised:
		if k.Version != Naive && k.Orders[m.Order] != Awaiting {
			return // too late: the order was cancelled
		}
		if cancel := k.timers[m.Order]; cancel != nil {
			cancel()
		}
		k.Orders[m.Order] = Charged
		k.Charges[m.Order]++
	case paymentTimedOut:
		if k.Version == Fixed && k.Orders[m.Order] != Awaiting {
			return // the authorisation came first; this firing was already queued
		}
		k.Orders[m.Order] = Cancelled
		k.Cancels[m.Order]++
	}
}
