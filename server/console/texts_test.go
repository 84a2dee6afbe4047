package console

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oidcd/oidcd/web"
)

// The console's Go code names its texts by key and the templates hold the
// words (so that the pages can be translated as templates are): every key
// the code uses has a text in console/layout.html, found by reading the
// package's source, so a key added without its text fails here.
func TestEveryTextKeyHasATemplateText(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	keyRE := map[string]*regexp.Regexp{
		"title": regexp.MustCompile(`(?:Title: |title, arg :?= |renderSecret\(w, r, res, |message\(w, r, \w+, http\.Status\w+, )"([a-z-]+)"`),
		"error": regexp.MustCompile(`(?:Key: |refused\()"([a-z-]+)"`),
	}
	keys := map[string]map[string]bool{"title": {}, "error": {}, "notice": {}}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for kind, re := range keyRE {
			for _, m := range re.FindAllStringSubmatch(string(src), -1) {
				keys[kind][m[1]] = true
			}
		}
	}
	for k := range notices {
		keys["notice"][k] = true
	}
	if len(keys["title"]) < 15 || len(keys["error"]) < 15 || len(keys["notice"]) < 10 {
		t.Fatalf("too few keys found in the source: %v", keys)
	}
	pages, err := web.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Console{pages: pages}
	render := func(v *view) string {
		v.c = c
		w := httptest.NewRecorder()
		if err := pages.Render(w, 200, "console/message.html", v, ""); err != nil {
			t.Fatal(err)
		}
		return w.Body.String()
	}
	h1 := regexp.MustCompile(`<h1>([^<]*)</h1>`)
	for k := range keys["title"] {
		if m := h1.FindStringSubmatch(render(&view{Title: k, TitleArg: "X"})); m == nil || strings.TrimSpace(m[1]) == "" {
			t.Errorf("title %q has no text", k)
		}
	}
	for k := range keys["error"] {
		body := render(&view{Title: "not-found", Error: problem{Key: k, Detail: "DETAIL"}})
		if m := regexp.MustCompile(`role="alert">([^<]*)</p>`).FindStringSubmatch(body); m == nil || m[1] == "" ||
			k != "refused" && strings.TrimSpace(m[1]) == "DETAIL" {
			t.Errorf("error %q has no text of its own", k)
		}
	}
	for k := range keys["notice"] {
		body := render(&view{Title: "not-found", Notice: k})
		if m := regexp.MustCompile(`role="status">([^<]*)</p>`).FindStringSubmatch(body); m == nil || strings.TrimSpace(m[1]) == "" {
			t.Errorf("notice %q has no text", k)
		}
	}
}
