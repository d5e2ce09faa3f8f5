package bridge

import (
	"context"
	"sync"
	"time"
)

// groupCache remembers user-group members for a while, so that checking
// an approver costs no API call most of the time. A stale entry is still
// used when the refresh fails.
type groupCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	members map[string]groupEntry
}

type groupEntry struct {
	users map[string]bool
	at    time.Time
}

func newGroupCache(ttl time.Duration) *groupCache {
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	return &groupCache{ttl: ttl, members: map[string]groupEntry{}}
}

// memberOf reports whether user is one of ids: people, or groups the
// chat surface resolves (GroupDirectory).
func (s *approvals) memberOf(ctx context.Context, user string, ids []string) (bool, error) {
	for _, id := range ids {
		if id == user {
			return true, nil
		}
	}
	dir, _ := s.actions.(GroupDirectory)
	if dir == nil {
		return false, nil
	}
	for _, id := range ids {
		if !dir.IsGroup(id) {
			continue
		}
		users, err := s.groupMembers(ctx, id)
		if err != nil {
			return false, err
		}
		if users[user] {
			return true, nil
		}
	}
	return false, nil
}

func (s *approvals) groupMembers(ctx context.Context, group string) (map[string]bool, error) {
	c := s.groups
	now := s.clock.Now()
	c.mu.Lock()
	e, ok := c.members[group]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl {
		return e.users, nil
	}
	dir, _ := s.actions.(GroupDirectory)
	if dir == nil {
		return nil, nil
	}
	list, err := dir.GroupMembers(ctx, group)
	if err != nil {
		if ok {
			s.log.Warn("cannot refresh user group; using the last known members", "group", group, "err", err)
			return e.users, nil
		}
		return nil, err
	}
	users := make(map[string]bool, len(list))
	for _, u := range list {
		users[u] = true
	}
	c.mu.Lock()
	c.members[group] = groupEntry{users: users, at: now}
	c.mu.Unlock()
	return users, nil
}
