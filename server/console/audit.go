package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/oidcd/oidcd/storage"
)

// auditPerPage is how many records a page of the audit log shows.
const auditPerPage = 100

type auditRow struct {
	At, Actor, IP, Action, Target, TargetURL, Detail string
}

type auditData struct {
	Action, Target string
	Records        []auditRow
	OlderURL       string
}

// audit shows the audit log, newest first, a page at a time, optionally
// only one action or target ("client:ID", "user:ID", "key:KID").
func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	aq := storage.AuditQuery{Action: strings.TrimSpace(q.Get("action")), Target: strings.TrimSpace(q.Get("target")), Limit: auditPerPage}
	if at, id, ok := strings.Cut(q.Get("before"), "."); ok {
		if us, err := strconv.ParseInt(at, 10, 64); err == nil {
			aq.Before, aq.BeforeID = time.UnixMicro(us).UTC(), id
		}
	}
	recs, err := c.svc.Audit(r.Context(), aq)
	if err != nil {
		c.serverError(w, r, "console: audit log", err)
		return
	}
	d := &auditData{Action: aq.Action, Target: aq.Target}
	for _, rec := range recs {
		d.Records = append(d.Records, auditRow{At: rec.At.UTC().Format("2006-01-02 15:04:05 UTC"), Actor: rec.Actor, IP: rec.IP,
			Action: rec.Action, Target: rec.Target, TargetURL: c.targetURL(rec.Target), Detail: rec.Detail})
	}
	if len(recs) == auditPerPage {
		last := recs[len(recs)-1]
		v := url.Values{"before": {strconv.FormatInt(last.At.UnixMicro(), 10) + "." + last.ID}}
		if aq.Action != "" {
			v.Set("action", aq.Action)
		}
		if aq.Target != "" {
			v.Set("target", aq.Target)
		}
		d.OlderURL = c.prefix + "/admin/audit?" + v.Encode()
	}
	c.render(w, r, http.StatusOK, "audit.html", &view{Title: "audit", Section: "audit", Data: d}, nil)
}

// targetURL is the console page of an audit record's target, if it has
// one.
func (c *Console) targetURL(target string) string {
	kind, id, _ := strings.Cut(target, ":")
	switch kind {
	case "client":
		return c.prefix + "/admin/clients/" + url.PathEscape(id)
	case "user":
		return c.prefix + "/admin/users/" + url.PathEscape(id)
	case "key":
		return c.prefix + "/admin/keys"
	}
	return ""
}
