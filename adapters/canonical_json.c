/* canonical_json.c: placeholder, being written. */
