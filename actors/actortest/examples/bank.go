package examples

import "github.com/asynkron/protoactor-go/actor"

// The bank's messages.
type (
	// Withdraw asks the teller to pay out Amount; the answer (to the
	// sender) is Paid or Refused.
	Withdraw struct{ Amount int }
	// Paid: the money was paid out.
	Paid struct{ Amount int }
	// Refused: the balance did not cover the amount.
	Refused struct{ Amount, Balance int }

	// GetBalance asks the account for its balance (BalanceIs, with the
	// asker's ID).
	GetBalance struct{ ID int }
	// BalanceIs answers GetBalance.
	BalanceIs struct{ ID, Balance int }
	// Debit takes Amount from the account, whatever the balance.
	Debit struct{ Amount int }
)

// Account holds a balance. Balance is read between steps by tests.
type Account struct{ Balance int }

// Receive serves GetBalance and Debit, and (FixedTeller's protocol)
// Withdraw, which it checks and debits in one message.
func (a *Account) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case GetBalance:
		c.Respond(BalanceIs{ID: m.ID, Balance: a.Balance})
	case Debit:
		a.Balance -= m.Amount
	case Withdraw:
		if m.Amount > a.Balance {
			c.Respond(Refused{Amount: m.Amount, Balance: a.Balance})
			return
		}
		a.Balance -= m.Amount
		c.Respond(Paid{Amount: m.Amount})
	}
}

// RacyTeller checks the balance, then debits: two messages to the
// account, with anything in between. Two withdrawals that both read the
// balance before either debits both pay out (a check-then-act race).
type RacyTeller struct {
	Account *actor.PID

	next    int
	pending map[int]pendingWithdrawal
}

type pendingWithdrawal struct {
	amount   int
	customer *actor.PID
}

// Receive asks the balance for each withdrawal and pays when it covers
// the amount.
func (t *RacyTeller) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case Withdraw:
		if t.pending == nil {
			t.pending = map[int]pendingWithdrawal{}
		}
		t.next++
		t.pending[t.next] = pendingWithdrawal{amount: m.Amount, customer: c.Sender()}
		c.Request(t.Account, GetBalance{ID: t.next})
	case BalanceIs:
		w := t.pending[m.ID]
		delete(t.pending, m.ID)
		if w.amount > m.Balance { // the check...
			c.Send(w.customer, Refused{Amount: w.amount, Balance: m.Balance})
			return
		}
		c.Send(t.Account, Debit{Amount: w.amount}) // ...and the act, a message later
		c.Send(w.customer, Paid{Amount: w.amount})
	}
}

// FixedTeller lets the account decide: it forwards the withdrawal, and
// the account checks and debits in one Receive, answering the customer.
type FixedTeller struct{ Account *actor.PID }

// Receive forwards withdrawals to the account.
func (t *FixedTeller) Receive(c actor.Context) {
	if _, ok := c.Message().(Withdraw); ok {
		c.Forward(t.Account)
	}
}
