package config

import "time"

// Bundles configures how the relay shows a traffic spike in a channel
// that Slack's pace (about one message a second) cannot keep up with:
// passive keyword hits that open new tickets are then mirrored several to
// a message, each with an Answer button that gives it its own thread.
type Bundles struct {
	// Target is how long a channel's queue may take to show at its pace
	// before new passive posts are bundled (default 60s).
	Target Duration `yaml:"target"`
	// Size is how many posts a bundle shows (default 10). When the queue
	// is so deep that bundles of Size would still not show it within
	// Target, bundles grow up to MaxSize.
	Size int `yaml:"size"`
	// MaxSize caps a bundle (default 40; at most 45, since a Slack
	// message holds at most 50 blocks).
	MaxSize int `yaml:"max_size"`
	// Disabled turns bundling off: every post is a message of its own.
	Disabled bool `yaml:"disabled"`
}

// MaxBundleSize is the largest bundle a message can hold.
const MaxBundleSize = 45

// bundles applies the section's defaults and checks it.
func (v *validator) bundles() {
	b := &v.cfg.Bundles
	if b.Target == 0 {
		b.Target = Duration(time.Minute)
	}
	if b.Size == 0 {
		b.Size = 10
	}
	if b.MaxSize == 0 {
		b.MaxSize = max(40, b.Size)
	}
	if t := b.Target.D(); t < 5*time.Second || t > time.Hour {
		v.bad("bundles.target", "%s must be between 5s and 1h", b.Target)
	}
	if b.Size < 2 || b.Size > MaxBundleSize {
		v.bad("bundles.size", "%d must be between 2 and %d", b.Size, MaxBundleSize)
	}
	if b.MaxSize < b.Size || b.MaxSize > MaxBundleSize {
		v.bad("bundles.max_size", "%d must be between bundles.size (%d) and %d", b.MaxSize, b.Size, MaxBundleSize)
	}
}
