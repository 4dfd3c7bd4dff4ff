/* linkage_eval.c: being written. */
int main(void) { return 0; }
