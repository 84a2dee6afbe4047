// Command ceiling is the throughput ceiling of the performance targets in
// the README ("Performance"): the smallest Go HTTP handler that writes a
// fixed JSON body. The benchmark script measures oidcd's endpoints as
// ratios of it.
package main

import (
	"flag"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	bodyFile := flag.String("body", "", "file holding the JSON body (the measured endpoint's own response, so sizes match)")
	flag.Parse()
	body := []byte(`{"issuer":"http://127.0.0.1:8099","ok":true}`)
	if *bodyFile != "" {
		b, err := os.ReadFile(*bodyFile)
		if err != nil {
			log.Fatal(err)
		}
		body = b
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
