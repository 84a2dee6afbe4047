// Command ceiling is the throughput ceiling of PRODUCT.md's performance
// targets: the smallest Go HTTP handler that writes a fixed JSON body. The
// benchmark script measures oidcd's endpoints as ratios of it.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	flag.Parse()
	body := []byte(`{"issuer":"http://127.0.0.1:8099","ok":true}`)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
