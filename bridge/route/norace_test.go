//go:build !race

package route

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
