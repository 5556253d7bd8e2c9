/*
 * qa_encode.c: a question-answer pair as a training row, and a question as a generation prompt
 * (see data.h). The layout is [BOS, PROMPT, question, ANSWER, answer, EOS]; only the answer and the
 * EOS are predicted, so the loss never trains the model to produce questions.
 */
#include <string.h>

#include "data/data.h"

#define HINT_LONG "raise the sequence length (data.seq_len) or shorten the question and answer"

/* Encodes text into buf[at..len) and returns the tokens it needs, which may exceed the room (nothing
 * is written beyond len). */
static int encode_at(const tb_tokenizer *tok, const char *text, int *buf, int at, int len) {
    int room = len - at;
    return (int)tb_tokenizer_encode(tok, text, strlen(text), room > 0 ? buf + at : NULL, room > 0 ? (size_t)room : 0);
}

int tb_qa_encode_prompt(const tb_tokenizer *tok, const char *question, int *out, int cap, int *n) {
    int nq = encode_at(tok, question, out, 2, cap);
    *n = nq + 3;
    if (*n > cap)
        return TB_ERROR(TB_ERR_ARG, HINT_LONG,
                        "the prompt of question \"%s\" needs %d tokens, more than the %d allowed", question, *n, cap);
    out[0] = TB_TOK_BOS;
    out[1] = TB_TOK_PROMPT;
    out[2 + nq] = TB_TOK_ANSWER;
    return TB_OK;
}

int tb_qa_encode(const tb_tokenizer *tok, const char *question, const char *answer, int T, int *inp, int *targets,
                 int *n_answer) {
    /* positions in the sequence: question from 2, ANSWER at answer_at - 1, answer from answer_at, EOS at
     * eos_at. The sequence is eos_at + 1 tokens; inp holds the first T, so the EOS may be a target only. */
    int nq = encode_at(tok, question, inp, 2, T);
    int answer_at = 3 + nq;
    int na = encode_at(tok, answer, inp, answer_at, T);
    int eos_at = answer_at + na;
    if (eos_at > T)
        return TB_ERROR(TB_ERR_ARG, HINT_LONG, "question \"%s\" with its answer needs T >= %d (T is %d)", question,
                        eos_at, T);
    inp[0] = TB_TOK_BOS;
    inp[1] = TB_TOK_PROMPT;
    inp[answer_at - 1] = TB_TOK_ANSWER;
    for (int t = eos_at; t < T; t++) inp[t] = t == eos_at ? TB_TOK_EOS : TB_TOK_PAD;
    /* position t predicts token t+1: the answer tokens, then the EOS */
    for (int t = 0; t < T; t++) targets[t] = -1;
    for (int t = answer_at - 1; t < eos_at - 1; t++) targets[t] = inp[t + 1];
    targets[eos_at - 1] = TB_TOK_EOS;
    *n_answer = na + 1;
    return TB_OK;
}
