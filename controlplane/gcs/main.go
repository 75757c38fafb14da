// Command gcs is an in-memory GCS-compatible server on loopback for the backup tests: fake-gcs-server's
// fakestorage package (the JSON API, including resumable uploads) over plain HTTP, plus a check that each request
// carries a bearer token signed by the expected service account.
//
// The store under test authenticates with self-signed JWTs (no token exchange with Google, see
// src/backup/gcs-store.ts), so this process can verify every request's token offline: the RS256 signature with the
// service account's public key, and the issuer. That proves the client sends the credentials it was given; the
// private key never reaches this process.
package main

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on; port 0 picks a free port")
	bucket := flag.String("bucket", "", "bucket to create at start")
	flag.Parse()

	// NoListener: we serve its handler on our own listener, so port 0 works without a pick-then-bind race and
	// the authentication check can wrap it.
	server, err := fakestorage.NewServerWithOptions(fakestorage.Options{NoListener: true})
	if err != nil {
		log.Fatalf("create server: %v", err)
	}
	if *bucket != "" {
		server.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: *bucket})
	}
	handler, err := requireServiceAccount(os.Getenv("GCS_CLIENT_EMAIL"), os.Getenv("GCS_PUBLIC_KEY_PEM"),
		server.HTTPHandler())
	if err != nil {
		log.Fatal(err)
	}

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen on %s: %v", *listen, err)
	}
	// The test harness reads this line to learn the port.
	fmt.Printf("listening on http://%s\n", listener.Addr())
	log.Fatal(http.Serve(listener, handler))
}

func requireServiceAccount(email, publicKeyPEM string, next http.Handler) (http.Handler, error) {
	if email == "" {
		return next, nil
	}
	block, _ := pem.Decode([]byte(publicKeyPEM))
	if block == nil {
		return nil, fmt.Errorf("GCS_PUBLIC_KEY_PEM holds no PEM block")
	}
	parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse GCS_PUBLIC_KEY_PEM: %w", err)
	}
	key, ok := parsed.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("GCS_PUBLIC_KEY_PEM is not an RSA key")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// As in GCS, the URI of a resumable upload session authorizes the chunks sent to it: only opening the
		// session needs credentials (and @google-cloud/storage sends none with the chunks to a custom endpoint).
		if strings.HasPrefix(r.URL.Path, "/upload/") && r.URL.Query().Get("upload_id") != "" {
			next.ServeHTTP(w, r)
			return
		}
		token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !found {
			deny(w, "no bearer token")
			return
		}
		if err := verify(token, email, key); err != nil {
			deny(w, err.Error())
			return
		}
		next.ServeHTTP(w, r)
	}), nil
}

func verify(token, email string, key *rsa.PublicKey) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("the bearer token is not a JWT")
	}
	signature, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("the JWT signature is not base64url: %w", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], signature); err != nil {
		return fmt.Errorf("the JWT is not signed by the service account's key")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("the JWT payload is not base64url: %w", err)
	}
	var claims struct {
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("the JWT payload is not JSON: %w", err)
	}
	if claims.Iss != email {
		return fmt.Errorf("the JWT is issued by %q, not by %q", claims.Iss, email)
	}
	if time.Now().Unix() > claims.Exp {
		return fmt.Errorf("the JWT has expired")
	}
	return nil
}

func deny(w http.ResponseWriter, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": 401, "message": message}})
	w.Write(body)
}
