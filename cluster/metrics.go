package cluster

import "github.com/prometheus/client_golang/prometheus"

var (
	membersDesc = prometheus.NewDesc("armistice_cluster_members",
		"Nodes in the cluster as this node sees it, itself included.", nil, nil)
	sentDesc = prometheus.NewDesc("armistice_cluster_remote_messages_total",
		"Messages this node sent to a peer (commands, subscriptions, pulls, batches).", []string{"peer"}, nil)
	failuresDesc = prometheus.NewDesc("armistice_cluster_remote_failures_total",
		"Failures seen with a peer: answers that never came, lost connections.", []string{"peer"}, nil)
)

// Collector returns the node's metrics for a Prometheus registry:
// armistice_cluster_members and per-peer counters of remote messages and
// failures.
func (n *Node) Collector() prometheus.Collector { return nodeCollector{n} }

type nodeCollector struct{ n *Node }

func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- membersDesc
	ch <- sentDesc
	ch <- failuresDesc
}

func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(membersDesc, prometheus.GaugeValue, float64(len(c.n.Members())))
	for peer, st := range c.n.Peers() {
		ch <- prometheus.MustNewConstMetric(sentDesc, prometheus.CounterValue, float64(st.Sent.Load()), peer)
		ch <- prometheus.MustNewConstMetric(failuresDesc, prometheus.CounterValue, float64(st.Failures.Load()), peer)
	}
}
