// Command embedgen writes the two files the Kubernetes provider's main package embeds but its
// module does not ship (they are generated and gitignored upstream):
//
//	schema-embed.json            = schema.json, compacted, with "version" set
//	terraform-mapping-embed.json = terraform-mapping.json, compacted
//
// Usage: go run ./embedgen -version 4.25.0 -src <module>/cmd/pulumi-resource-kubernetes -out <dir>
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"log"
	"os"
	"path/filepath"
)

func main() {
	version := flag.String("version", "", "provider version to record in the schema (no leading v)")
	src := flag.String("src", "", "directory holding schema.json and terraform-mapping.json")
	out := flag.String("out", "", "directory to write the *-embed.json files into")
	flag.Parse()
	if *version == "" || *src == "" || *out == "" {
		log.Fatal("embedgen: -version, -src and -out are required")
	}

	raw, err := os.ReadFile(filepath.Join(*src, "schema.json"))
	if err != nil {
		log.Fatal(err)
	}
	// Top-level keys only: every value other than "version" is kept byte for byte.
	var schema map[string]json.RawMessage
	if err := json.Unmarshal(raw, &schema); err != nil {
		log.Fatalf("embedgen: schema.json: %v", err)
	}
	v, _ := json.Marshal(*version)
	schema["version"] = v
	schemaOut, err := json.Marshal(schema)
	if err != nil {
		log.Fatal(err)
	}
	write(filepath.Join(*out, "schema-embed.json"), schemaOut)

	mapping, err := os.ReadFile(filepath.Join(*src, "terraform-mapping.json"))
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, mapping); err != nil {
		log.Fatalf("embedgen: terraform-mapping.json: %v", err)
	}
	write(filepath.Join(*out, "terraform-mapping-embed.json"), buf.Bytes())
}

func write(path string, data []byte) {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
}
