package slackfake

// DropSockets cuts every open Socket Mode connection at the TCP level,
// without a close frame or a disconnect message, as a network failure or
// a crashed Slack host would. It returns how many connections it cut.
// Envelopes left unacknowledged on them are delivered again after the ack
// timeout; queued events wait for the client's next connection.
func (s *Server) DropSockets() int {
	s.mu.Lock()
	conns := make([]*smConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown() // the reader and writer notice and drop the connection
	}
	return len(conns)
}
