// Command s3 is an in-memory S3-compatible server on loopback for the backup tests: gofakes3 with path-style
// addressing, plus a check that each request is signed with the expected access key ID.
//
// gofakes3 does not verify SigV4 signatures; checking the key ID in the Authorization header at least proves that
// the client under test sends the credentials it was given. The secret key never reaches this process.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	bucket := flag.String("bucket", "", "bucket to create at start")
	flag.Parse()
	accessKey := os.Getenv("S3_ACCESS_KEY_ID")

	backend := s3mem.New()
	if *bucket != "" {
		if err := backend.CreateBucket(*bucket); err != nil {
			log.Fatalf("create bucket %s: %v", *bucket, err)
		}
	}
	faker := gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog()))

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen on %s: %v", *listen, err)
	}
	// The test harness reads this line to learn the port.
	fmt.Printf("listening on http://%s\n", listener.Addr())
	log.Fatal(http.Serve(listener, requireAccessKey(accessKey, faker.Server())))
}

func requireAccessKey(accessKey string, next http.Handler) http.Handler {
	if accessKey == "" {
		return next
	}
	want := "Credential=" + accessKey + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if !strings.Contains(auth, want) && r.URL.Query().Get("X-Amz-Credential") == "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId`+
				`</Code><Message>The access key ID you provided does not exist in our records.</Message></Error>`)
			return
		}
		next.ServeHTTP(w, r)
	})
}
