package http

import (
	"context"
	"strconv"
	"time"

	"github.com/armistice-go/armistice/actors"
	"github.com/armistice-go/armistice/llm/resilient"
	"github.com/armistice-go/armistice/model"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds Armistice's Prometheus metrics. It is an actors.Observer:
// pass it as the engine's Config.Observer to count requests, and as this
// package's Config.Metrics to serve it on /metrics with the HTTP metrics.
// It is also a resilient.Observer, to count upstream attempts, retries,
// errors by kind and cancel-to-abort latency.
// Every method is safe for concurrent use and never blocks.
type Metrics struct {
	registry *prometheus.Registry

	finished    *prometheus.CounterVec
	byState     *prometheus.GaugeVec
	subscribers prometheus.Gauge
	ttft        prometheus.Histogram
	duration    *prometheus.HistogramVec
	queued      prometheus.Histogram
	tokens      prometheus.Counter
	usage       *prometheus.CounterVec

	httpRequests *prometheus.CounterVec
	streams      prometheus.Gauge

	upAttempts  *prometheus.CounterVec
	upRetries   *prometheus.CounterVec
	upFallbacks *prometheus.CounterVec
	upErrors    *prometheus.CounterVec
	upAborts    *prometheus.HistogramVec
}

var (
	_ actors.TokenObserver = (*Metrics)(nil)
	_ resilient.Observer   = (*Metrics)(nil)
)

// latencyBuckets run from 1 ms to 2 min at round values (1, 2.5, 5 times
// a power of ten), so that a scrape reads le="0.25", not le="0.244140625".
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120}

// abortBuckets run from 0.1 ms to 1 s, at round values too.
var abortBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// NewMetrics creates the metrics in a registry of their own, with the Go
// and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		registry: reg,
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "armistice", Name: "requests_finished_total",
			Help: "Requests that reached their end record, by final status and reason.",
		}, []string{"status", "reason"}),
		byState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "armistice", Name: "requests_in_state",
			Help: "Live requests (actors) by state, now; finished ones stay until they expire.",
		}, []string{"state"}),
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "armistice", Name: "subscribers",
			Help: "Subscribers attached to requests.",
		}),
		ttft: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "armistice", Name: "time_to_first_token_seconds",
			Help:    "Time from submit to the first token, queueing included.",
			Buckets: latencyBuckets,
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "armistice", Name: "request_duration_seconds",
			Help:    "Time from submit to the end record, by final status.",
			Buckets: latencyBuckets,
		}, []string{"status"}),
		queued: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "armistice", Name: "queue_wait_seconds",
			Help:    "Time requests spent pending before a slot or their end.",
			Buckets: latencyBuckets,
		}),
		tokens: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "armistice", Name: "tokens_total",
			Help: "Token records appended to requests' logs, counted as they stream.",
		}),
		usage: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "armistice", Name: "usage_tokens_total",
			Help: "Tokens as the provider reported them, by kind (prompt, completion).",
		}, []string{"kind"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "armistice", Name: "http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "armistice", Name: "event_streams",
			Help: "Open SSE event streams.",
		}),
		upAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "armistice", Name: "upstream_attempts_total",
			Help: "Attempts to open a stream on an upstream, retries included.",
		}, []string{"upstream"}),
		upRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "armistice", Name: "upstream_retries_total",
			Help: "Retries on the same upstream, by the kind of error that caused them.",
		}, []string{"upstream", "kind"}),
		upFallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "armistice", Name: "upstream_fallbacks_total",
			Help: "Requests moved to the next upstream, by the kind of the last error.",
		}, []string{"upstream", "kind"}),
		upErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "armistice", Name: "upstream_errors_total",
			Help: "Upstream errors by kind (connect, status_429, status_5xx, stream_cut, ...); cancellations are not errors.",
		}, []string{"upstream", "kind"}),
		upAborts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "armistice", Name: "upstream_abort_seconds",
			Help:    "Time from a request's cancel (or deadline) to its upstream call being let go.",
			Buckets: abortBuckets,
		}, []string{"upstream"}),
	}
	for _, s := range []model.State{model.StatePending, model.StateStreaming, model.StateCancelled, model.StateDone} {
		m.byState.WithLabelValues(s.String())
	}
	reg.MustRegister(m.finished, m.byState, m.subscribers, m.ttft, m.duration, m.queued, m.tokens, m.usage,
		m.httpRequests, m.streams, m.upAttempts, m.upRetries, m.upFallbacks, m.upErrors, m.upAborts,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry /metrics serves; register your own
// collectors in it to serve them too.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// StateChanged implements actors.Observer.
func (m *Metrics) StateChanged(from, to model.State) {
	if from != 0 {
		m.byState.WithLabelValues(from.String()).Dec()
	}
	m.byState.WithLabelValues(to.String()).Inc()
}

// FirstToken implements actors.Observer.
func (m *Metrics) FirstToken(sinceSubmit time.Duration) { m.ttft.Observe(sinceSubmit.Seconds()) }

// Finished implements actors.Observer.
func (m *Metrics) Finished(o actors.Outcome) {
	m.finished.WithLabelValues(o.Status.String(), o.Reason.String()).Inc()
	m.duration.WithLabelValues(o.Status.String()).Observe(o.Duration.Seconds())
	m.queued.Observe(o.Queued.Seconds())
	// Tokens were counted as they came (Tokens).
	if o.Usage != nil {
		m.usage.WithLabelValues("prompt").Add(float64(o.Usage.PromptTokens))
		m.usage.WithLabelValues("completion").Add(float64(o.Usage.CompletionTokens))
	}
}

// Tokens implements actors.TokenObserver: the token counter moves while
// requests stream.
func (m *Metrics) Tokens(n int) { m.tokens.Add(float64(n)) }

// Removed implements actors.Observer.
func (m *Metrics) Removed(last model.State) { m.byState.WithLabelValues(last.String()).Dec() }

// SubscribersChanged implements actors.Observer.
func (m *Metrics) SubscribersChanged(delta int) { m.subscribers.Add(float64(delta)) }

// Attempt implements resilient.Observer.
func (m *Metrics) Attempt(upstream string, attempt int) { m.upAttempts.WithLabelValues(upstream).Inc() }

// Retry implements resilient.Observer.
func (m *Metrics) Retry(upstream string, kind resilient.Kind, wait time.Duration) {
	m.upRetries.WithLabelValues(upstream, string(kind)).Inc()
}

// Fallback implements resilient.Observer.
func (m *Metrics) Fallback(upstream string, kind resilient.Kind, next string) {
	m.upFallbacks.WithLabelValues(upstream, string(kind)).Inc()
}

// Error implements resilient.Observer.
func (m *Metrics) Error(upstream string, kind resilient.Kind, err error) {
	m.upErrors.WithLabelValues(upstream, string(kind)).Inc()
}

// Aborted implements resilient.Observer.
func (m *Metrics) Aborted(upstream string, latency time.Duration) {
	m.upAborts.WithLabelValues(upstream).Observe(latency.Seconds())
}

func (m *Metrics) observeHTTP(route, method string, code int) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
}

// engineCollector reports the supervisor's queue at scrape time.
type engineCollector struct {
	eng     *actors.Engine
	queue   *prometheus.Desc
	active  *prometheus.Desc
	known   *prometheus.Desc
	runs    *prometheus.Desc
	kept    *prometheus.Desc
	keptB   *prometheus.Desc
	evicted *prometheus.Desc
	timeout time.Duration
}

func newEngineCollector(eng *actors.Engine) *engineCollector {
	return &engineCollector{
		eng:    eng,
		queue:  prometheus.NewDesc("armistice_queue_depth", "Requests waiting for a slot.", nil, nil),
		active: prometheus.NewDesc("armistice_active_slots", "Slots held by streaming requests.", nil, nil),
		known:  prometheus.NewDesc("armistice_registered_requests", "Request ids the supervisor knows.", nil, nil),
		runs: prometheus.NewDesc("armistice_mailbox_runs_total",
			"The engine's mailbox runs (supervisor and requests), by where they ran: on a long-lived worker, or on a goroutine of their own when every worker was busy.",
			[]string{"on"}, nil),
		kept:  prometheus.NewDesc("armistice_retained_requests", "Finished requests kept for late readers (MaxRetained).", nil, nil),
		keptB: prometheus.NewDesc("armistice_retained_bytes", "Bytes the retained requests hold (MaxRetainedBytes).", nil, nil),
		evicted: prometheus.NewDesc("armistice_evictions_total",
			"Finished requests evicted to stay within the retention budget, by whether their end had been read (read) or not (unread: they answer 410 expired).",
			[]string{"reason"}, nil),
		timeout: time.Second,
	}
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.queue
	ch <- c.active
	ch <- c.known
	ch <- c.runs
	ch <- c.kept
	ch <- c.keptB
	ch <- c.evicted
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.eng.Stats(ctx)
	if err != nil {
		return // a closed or busy engine: the scrape goes on without these
	}
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(st.Active))
	ch <- prometheus.MustNewConstMetric(c.known, prometheus.GaugeValue, float64(st.Registered))
	ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(st.MailboxRunsOnWorkers), "worker")
	ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(st.MailboxRunsOnGoroutines), "goroutine")
	ch <- prometheus.MustNewConstMetric(c.kept, prometheus.GaugeValue, float64(st.Retained))
	ch <- prometheus.MustNewConstMetric(c.keptB, prometheus.GaugeValue, float64(st.RetainedBytes))
	ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(st.EvictedRead), "read")
	ch <- prometheus.MustNewConstMetric(c.evicted, prometheus.CounterValue, float64(st.EvictedUnread), "unread")
}
