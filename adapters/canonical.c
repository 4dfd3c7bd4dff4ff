/* canonical.c: placeholder, being written. */
