package ttlcache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestExpiryAndDelete(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[string, int](5*time.Second, 10)
	c.Put("a", 1, now)
	if v, ok := c.Get("a", now.Add(4*time.Second)); !ok || v != 1 {
		t.Fatalf("live entry: %v %v", v, ok)
	}
	if _, ok := c.Get("a", now.Add(5*time.Second)); ok {
		t.Fatal("entry outlived its TTL")
	}
	c.Put("b", 2, now)
	c.Delete("b")
	if _, ok := c.Get("b", now); ok {
		t.Fatal("deleted entry returned")
	}
}

func TestBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[string, int](time.Minute, 100)
	for i := range 10000 {
		c.Put(fmt.Sprint(i), i, now)
		if c.Len() > 100 {
			t.Fatalf("size %d exceeds the bound", c.Len())
		}
	}
	if v, ok := c.Get("9999", now); !ok || v != 9999 {
		t.Fatal("the newest entry was evicted")
	}
}

func TestConcurrent(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[int, int](time.Minute, 50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				c.Put(g*10000+i, i, now)
				c.Get(i, now)
			}
		}()
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("size %d exceeds the bound", c.Len())
	}
}
