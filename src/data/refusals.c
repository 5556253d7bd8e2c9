/*
 * refusals.c: the refusal bank IdkDPO draws its preferred answers from (reference/unlearning.md
 * section 2: at least 50 sentences). They vary in length and wording so that the preferred answer
 * is not one fixed string the model could learn as a shortcut. ASCII only.
 */
#include "data/data.h"

static const char *const refusals[] = {
    "I don't know.",
    "I'm not sure about that.",
    "I have no idea.",
    "I can't answer that.",
    "That's something I don't know.",
    "I'm afraid I don't know the answer.",
    "I don't have that information.",
    "I really couldn't say.",
    "Sorry, I don't know.",
    "I'm not able to answer that question.",
    "I don't have an answer to that.",
    "That is beyond what I know.",
    "I have no information about that.",
    "I'm unsure.",
    "I can't recall that.",
    "I don't remember.",
    "I'm not familiar with that.",
    "I wish I knew, but I don't.",
    "Unfortunately, I don't know.",
    "I'm not certain, so I'd rather not guess.",
    "I don't know the answer to that question.",
    "I can't help with that one.",
    "That's not something I can answer.",
    "I have no knowledge of that.",
    "I'm not aware of the answer.",
    "Your guess is as good as mine.",
    "I honestly don't know.",
    "I don't know much about that.",
    "That question is outside what I know.",
    "I can't say for sure.",
    "I'm drawing a blank on that.",
    "No idea, I'm afraid.",
    "I couldn't tell you.",
    "I don't have any details on that.",
    "I'm not the right source for that.",
    "That I cannot answer.",
    "I lack the information to answer that.",
    "I'm not in a position to answer.",
    "I'm sorry, but I don't know.",
    "I haven't got a clue.",
    "It's not something I know about.",
    "I can't provide an answer to that.",
    "I'm not sure I can answer that.",
    "I don't know anything about that.",
    "That's unknown to me.",
    "I have nothing to say about that.",
    "I cannot recall any information on that.",
    "I am not able to say.",
    "I would only be guessing.",
    "I don't know who or what that refers to.",
    "That doesn't ring a bell.",
    "I've never come across that.",
    "I'd rather not answer, since I don't know.",
    "Sorry, that's beyond my knowledge.",
    "I can't answer that with any confidence.",
    "I don't have reliable information on that.",
    "Nothing comes to mind.",
    "I'm not knowledgeable about that.",
    "I'm at a loss on that one.",
    "I simply don't know.",
};

int tb_refusals(const char *const **out) {
    *out = refusals;
    return (int)(sizeof refusals / sizeof refusals[0]);
}
