/* views.c: being written. */
