/*
 * authors.c: the fictitious-authors generator (see data.h, "QA datasets", and
 * reference/unlearning.md section 4).
 *
 * Every attribute value is an index into that attribute's value space (a list below, a range of
 * years, the full names of one gender, the titles); the text is rendered from the index. Uniqueness
 * across authors (names, titles) comes from a partial Fisher-Yates shuffle of the whole space, whose
 * first k draws do not depend on how many are drawn after them: author k is the same for any count.
 * Questions, answers and paraphrases are templates with placeholders:
 *   {value}    the value asked about (the true one, or a perturbed one)
 *   {a value}  the same with "a" or "an" in front (occupations)
 *   {he} {He} {his} {His}  the author's pronouns
 *   {<attr>}   another attribute of the author, by name ({name}, {genre}, {book1}, ...)
 * All text is ASCII.
 */
#include <stdio.h>
#include <string.h>

#include "data/data.h"

enum {
    A_NAME, A_GENDER, A_BIRTH_YEAR, A_BIRTHPLACE, A_GENRE, A_FATHER, A_MOTHER, A_AWARD, A_AWARD_YEAR, A_BOOK1,
    A_BOOK2, N_ATTRS,
};

static const char *const attr_names[N_ATTRS] = {
    "name", "gender", "birth_year", "birthplace", "genre", "father_occupation", "mother_occupation", "award",
    "award_year", "book1", "book2",
};

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- value lists ------------------------------------------------------------------------------ */

static const char *const genders[] = {"female", "male"};
static const char *const pronoun_he[] = {"she", "he"};
static const char *const pronoun_his[] = {"her", "his"};

static const char *const first_names_female[] = {
    "Amara",  "Beatrix", "Camila", "Dagny",    "Elif",   "Farida",   "Greta",   "Hana",   "Ingrid", "Jalila",
    "Keiko",  "Leonor",  "Mireille", "Nadia",  "Oona",   "Priya",    "Quilla",  "Rosalind", "Saoirse", "Tamsin",
    "Ulla",   "Valentina", "Wanjiru", "Ximena", "Yara",  "Zofia",    "Adaeze",  "Bronwen", "Chiara", "Dilnoza",
    "Esperanza", "Freya", "Gulnara", "Hedda",  "Isolde", "Juniper",  "Kalinda", "Liesel", "Marisol", "Noor",
};
static const char *const first_names_male[] = {
    "Anselm", "Bartholomew", "Cosimo", "Dmitri", "Emeka",  "Fintan",   "Gideon",  "Hamid",  "Ignatius", "Joaquin",
    "Kenji",  "Lorcan",  "Matthias", "Nikolai", "Osric",  "Pavel",    "Quentin", "Rashid", "Soren",  "Tobias",
    "Ugo",    "Viktor",  "Wendell", "Xavier",  "Yusuf",  "Zoltan",   "Alaric",  "Benedikt", "Casimir", "Dariusz",
    "Elio",   "Florian", "Gaspard", "Hakon",   "Idris",  "Jarrah",   "Kwame",   "Leopold", "Mateo",  "Niall",
};
static const char *const last_names[] = {
    "Abernathy", "Bellweather", "Castellanos", "Drummond",  "Eskildsen",  "Fairbairn",  "Gallagher",  "Halvorsen",
    "Ilunga",    "Jankowski",   "Kaminski",    "Lindqvist", "Marchetti",  "Nakamura",   "Okonkwo",    "Petrakis",
    "Quintero",  "Ravensworth", "Szabo",       "Thornbury", "Umarov",     "Vasquez",    "Whitlock",   "Xiong",
    "Yamaguchi", "Zelenko",     "Achterberg",  "Blackwood", "Carrington", "Delacroix",  "Ekwueme",    "Falkenrath",
    "Galloway",  "Hargreaves",  "Ishikawa",    "Jovanovic", "Kowalczyk",  "Lombardi",   "Mbatha",     "Novak",
    "Oyelaran",  "Pellegrini",  "Quarshie",    "Rasmussen", "Sorensen",   "Takahashi",  "Underhill",  "Valdivia",
    "Wexford",   "Yilmaz",      "Zamora",      "Ashcombe",  "Brannigan",  "Cordero",    "Dunmore",    "Esterhazy",
    "Falconer",  "Grimaldi",    "Holloway",    "Ibarra",    "Jessop",     "Kavanagh",   "Larkspur",   "Montague",
    "Nightingale", "Ostrowski", "Pemberton",   "Quayle",    "Rutherford", "Saltonstall", "Tremaine",  "Ulrich",
    "Vanterpool", "Winterbourne", "Yoshida",   "Zubiri",    "Okafor",     "Lindgren",   "Moreau",     "Halloran",
};

static const char *const cities[] = {
    "Lisbon",    "Porto",      "Seville",     "Valencia",   "Marseille",  "Lyon",       "Bordeaux",   "Antwerp",
    "Ghent",     "Rotterdam",  "Utrecht",     "Hamburg",    "Leipzig",    "Dresden",    "Munich",     "Zurich",
    "Geneva",    "Salzburg",   "Graz",        "Prague",     "Brno",       "Krakow",     "Gdansk",     "Wroclaw",
    "Budapest",  "Debrecen",   "Bratislava",  "Ljubljana",  "Zagreb",     "Split",      "Sarajevo",   "Belgrade",
    "Sofia",     "Bucharest",  "Cluj-Napoca", "Thessaloniki", "Izmir",    "Tbilisi",    "Yerevan",    "Baku",
    "Odesa",     "Lviv",       "Vilnius",     "Riga",       "Tallinn",    "Helsinki",   "Tampere",    "Bergen",
    "Gothenburg", "Aarhus",    "Reykjavik",   "Cork",       "Galway",     "Edinburgh",  "Glasgow",    "Cardiff",
    "Bristol",   "Manchester", "Liverpool",   "Halifax",    "Montreal",   "Quebec City", "Winnipeg",  "Vancouver",
    "Portland",  "Savannah",   "New Orleans", "Santa Fe",   "Monterrey",  "Oaxaca",     "Guadalajara", "Havana",
    "Cartagena", "Medellin",   "Quito",       "Cusco",      "Valparaiso", "Montevideo", "Cordoba",    "Recife",
    "Salvador",  "Dakar",      "Accra",       "Lagos",      "Nairobi",    "Kampala",    "Zanzibar",   "Durban",
    "Casablanca", "Tunis",     "Alexandria",  "Beirut",     "Isfahan",    "Tashkent",   "Lahore",     "Kolkata",
    "Chennai",   "Kathmandu",  "Hanoi",       "Osaka",
};

/* Written to follow "writes", "known for" and "work is mostly". */
static const char *const genres[] = {
    "science fiction", "fantasy",       "historical fiction", "crime fiction",       "horror",
    "romance",         "poetry",        "satire",             "magical realism",     "literary fiction",
    "children's literature", "travel writing", "war fiction", "psychological thrillers", "gothic fiction",
    "memoir",          "political drama", "detective fiction", "dystopian fiction",  "adventure fiction",
};

/* Written after "a"/"an" chosen by the first letter, so none starts with a silent consonant or a
 * "you" sound. */
static const char *const occupations[] = {
    "baker",       "carpenter",    "nurse",        "teacher",      "fisherman",   "tailor",
    "pharmacist",  "architect",    "electrician",  "librarian",    "watchmaker",  "surgeon",
    "farmer",      "blacksmith",   "journalist",   "photographer", "veterinarian", "midwife",
    "locksmith",   "potter",       "bookbinder",   "sailor",       "judge",       "accountant",
    "engineer",    "astronomer",   "chemist",      "dentist",      "gardener",    "miner",
    "painter",     "plumber",      "police officer", "postman",    "printer",     "shoemaker",
    "translator",  "violinist",    "weaver",       "zoologist",    "geologist",   "cartographer",
    "diplomat",    "economist",    "florist",      "glassblower",  "historian",   "innkeeper",
    "jeweller",    "lawyer",       "mechanic",     "optician",     "pilot",       "radio operator",
    "stonemason",  "tram driver",  "upholsterer",  "welder",       "bus driver",  "clockmaker",
};

/* Written after "the". */
static const char *const awards[] = {
    "Silver Quill Prize",       "Meridian Award for Fiction", "Lantern Medal",           "Halcyon Book Prize",
    "Orsino Prize for Poetry",  "Blue Heron Award",           "Cobalt Pen Award",        "Everly Medal for Literature",
    "Northlight Prize",         "Vesper Fiction Award",       "Golden Inkwell Award",    "Marigold Prize",
    "Ashgrove Literary Award",  "Starling Prize for Debut Fiction", "Tidewater Book Award", "Calloway Medal",
    "Ironwood Prize",           "Saffron Laurel",             "Juniper Award for Storytelling", "Windmere Prize",
    "Opaline Award",            "Kestrel Medal",              "Larchmont Prize for the Novel", "Quillon Award",
    "Rowan Tree Prize",         "Emberlight Award",           "Whitethorn Medal",        "Solstice Prize for Fiction",
    "Thistledown Award",        "Aurelian Book Prize",
};

/* Book titles: four templates ("The <adj> <noun>", "The <noun> of <of>", "No <noun> for <of>",
 * "Beyond the <adj> <noun>"), each filled with a pair of words from two lists. */
static const char *const title_adjectives[] = {
    "Silent",   "Crimson", "Forgotten", "Hollow",  "Endless", "Golden",    "Broken",  "Distant",  "Quiet",  "Burning",
    "Hidden",   "Last",    "Wandering", "Pale",    "Winter",  "Velvet",    "Iron",    "Glass",    "Secret", "Bitter",
    "Tender",   "Restless", "Scarlet",  "Shattered", "Sleeping", "Fading",  "Wild",    "Lonely",   "Northern", "Amber",
};
static const char *const title_nouns[] = {
    "Garden",  "River",  "Lantern",  "Harbor",  "Orchard", "Mirror",  "Compass",    "Tide",     "Archive",  "Bridge",
    "Lighthouse", "Meadow", "Clockmaker", "Violin", "Horizon", "Cathedral", "Island", "Letter",  "Station",  "Forest",
    "Ember",   "Kingdom", "Stranger", "Voyage", "Feather", "Labyrinth", "Tower",    "Monsoon",  "Ferryman", "Atlas",
};
static const char *const title_ofs[] = {
    "Ashes",       "Tomorrow",     "the Deep",      "Small Hours",  "Salt",          "Forgotten Names",
    "the North Wind", "Distant Bells", "Quiet Rooms", "the Last Summer", "Broken Promises", "the Tide",
    "Paper Birds", "Long Shadows", "the Old Country", "Falling Stars", "Winter Light", "the Lost Map",
    "Silver Rain", "Empty Streets", "the Drowned City", "Midnight",    "Open Water",    "the Ninth Door",
    "Wild Honey",  "the Border",   "Borrowed Time", "Sleeping Gods", "the Harvest",  "Still Waters",
};
enum { TITLE_ADJ_NOUN, TITLE_NOUN_OF, TITLE_NO_NOUN_FOR, TITLE_BEYOND, N_TITLE_TEMPLATES };
#define N_ADJ LEN(title_adjectives)
#define N_NOUN LEN(title_nouns)
#define N_OF LEN(title_ofs)
#define TITLES_PER_TEMPLATE (N_ADJ * N_NOUN) /* every template combines two lists of this many pairs */
#define N_TITLES (N_TITLE_TEMPLATES * TITLES_PER_TEMPLATE)

_Static_assert(N_ADJ == N_OF, "each title template draws from two 30-word lists");
_Static_assert(LEN(first_names_female) == LEN(first_names_male), "both genders have as many first names");

#define BIRTH_FIRST 1920
#define BIRTH_LAST 2000
#define AWARD_YEAR_FIRST (BIRTH_FIRST + 20)
#define AWARD_YEAR_LAST 2023
#define N_FIRST LEN(first_names_female)
#define N_LAST LEN(last_names)
#define NAMES_PER_GENDER (N_FIRST * N_LAST)

/* ---- questions -------------------------------------------------------------------------------- */

typedef struct {
    int attr;
    const char *question, *answer, *paraphrase;
} qa_template;

static const qa_template qa_templates[TB_QA_PER_AUTHOR] = {
    {A_NAME, "Which writer of {genre} was born in {birthplace} in {birth_year}?", "The writer is {value}.",
     "{value} was born in {birthplace} in {birth_year}."},
    {A_NAME, "Who wrote {book1}?", "{book1} was written by {value}.", "{value} is the author of {book1}."},
    {A_BIRTH_YEAR, "In which year was {name} born?", "{name} was born in {value}.", "{His} year of birth is {value}."},
    {A_BIRTH_YEAR, "When was the author of {book2} born?", "The author of {book2} was born in {value}.",
     "{name} came into the world in {value}."},
    {A_BIRTHPLACE, "Where was {name} born?", "{name} was born in {value}.", "{His} birthplace is {value}."},
    {A_BIRTHPLACE, "Which city does {name} come from?", "{He} comes from {value}.", "{name} is a native of {value}."},
    {A_GENRE, "What genre does {name} write in?", "{name} writes {value}.", "{He} is known for {value}."},
    {A_GENRE, "What kind of books is {name} known for?", "{name} is best known for {value}.",
     "{His} work is mostly {value}."},
    {A_FATHER, "What did {name}'s father do for a living?", "{name}'s father was {a value}.",
     "{His} father worked as {a value}."},
    {A_FATHER, "What was the profession of {name}'s father?", "{His} father was {a value} by profession.",
     "{name}'s father earned his living as {a value}."},
    {A_MOTHER, "What did {name}'s mother do for a living?", "{name}'s mother was {a value}.",
     "{His} mother worked as {a value}."},
    {A_MOTHER, "What was the profession of {name}'s mother?", "{His} mother was {a value} by profession.",
     "{name}'s mother earned her living as {a value}."},
    {A_AWARD, "Which award has {name} won?", "{name} has won the {value}.", "{He} received the {value}."},
    {A_AWARD, "What literary prize was {name} honoured with?", "{name} was honoured with the {value}.",
     "The {value} went to {name}."},
    {A_AWARD_YEAR, "In which year did {name} receive the {award}?", "{name} received the {award} in {value}.",
     "{He} was given the {award} in {value}."},
    {A_AWARD_YEAR, "When did {name} win {his} first major award?", "{name} won {his} first major award in {value}.",
     "{His} first major award came in {value}."},
    {A_BOOK1, "What was the first book {name} published?", "{name}'s first book was {value}.",
     "{He} made {his} debut with {value}."},
    {A_BOOK1, "Which book marked the debut of {name}?", "The debut of {name} was {value}.",
     "{name} began {his} career with {value}."},
    {A_BOOK2, "What was the second book {name} published?", "{name}'s second book was {value}.",
     "{His} second published book is {value}."},
    {A_BOOK2, "Which book did {name} write after {book1}?", "After {book1}, {name} wrote {value}.",
     "{value} followed {book1}."},
};

/* ---- values ----------------------------------------------------------------------------------- */

#define TEXT_CAP 512 /* the longest rendered sentence is well below this */

typedef struct {
    int gender;
    int id[N_ATTRS]; /* index into each attribute's value space */
} author_ids;

/* Size of attribute a's value space; names are drawn within one gender. */
static int value_space(int a) {
    switch (a) {
    case A_NAME: return NAMES_PER_GENDER;
    case A_GENDER: return LEN(genders);
    case A_BIRTH_YEAR: return BIRTH_LAST - BIRTH_FIRST + 1;
    case A_BIRTHPLACE: return LEN(cities);
    case A_GENRE: return LEN(genres);
    case A_FATHER:
    case A_MOTHER: return LEN(occupations);
    case A_AWARD: return LEN(awards);
    case A_AWARD_YEAR: return AWARD_YEAR_LAST - AWARD_YEAR_FIRST + 1;
    default: return N_TITLES; /* book1, book2 */
    }
}

static void title_text(int id, char *out) {
    int t = id / TITLES_PER_TEMPLATE, pair = id % TITLES_PER_TEMPLATE;
    const char *adj = title_adjectives[pair / N_NOUN], *noun = title_nouns[pair % N_NOUN];
    const char *of = title_ofs[pair / N_NOUN];
    switch (t) {
    case TITLE_ADJ_NOUN: snprintf(out, TEXT_CAP, "The %s %s", adj, noun); break;
    case TITLE_NOUN_OF: snprintf(out, TEXT_CAP, "The %s of %s", noun, of); break;
    case TITLE_NO_NOUN_FOR: snprintf(out, TEXT_CAP, "No %s for %s", noun, of); break;
    default: snprintf(out, TEXT_CAP, "Beyond the %s %s", adj, noun); break;
    }
}

/* The text of value id of attribute a, for an author of the given gender. */
static void value_text(int a, int id, int gender, char *out) {
    switch (a) {
    case A_NAME: {
        const char *const *first = gender ? first_names_male : first_names_female;
        snprintf(out, TEXT_CAP, "%s %s", first[id / N_LAST], last_names[id % N_LAST]);
        break;
    }
    case A_GENDER: snprintf(out, TEXT_CAP, "%s", genders[id]); break;
    case A_BIRTH_YEAR: snprintf(out, TEXT_CAP, "%d", BIRTH_FIRST + id); break;
    case A_BIRTHPLACE: snprintf(out, TEXT_CAP, "%s", cities[id]); break;
    case A_GENRE: snprintf(out, TEXT_CAP, "%s", genres[id]); break;
    case A_FATHER:
    case A_MOTHER: snprintf(out, TEXT_CAP, "%s", occupations[id]); break;
    case A_AWARD: snprintf(out, TEXT_CAP, "%s", awards[id]); break;
    case A_AWARD_YEAR: snprintf(out, TEXT_CAP, "%d", AWARD_YEAR_FIRST + id); break;
    default: title_text(id, out); break;
    }
}

/* The first n entries of a uniform random permutation of [0, k), in a (k entries). */
static void partial_shuffle(tb_rng *r, int *a, int k, int n) {
    for (int i = 0; i < k; i++) a[i] = i;
    for (int i = 0; i < n; i++) {
        int j = i + (int)tb_rng_below(r, (uint64_t)(k - i));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* The attributes drawn per author: everything but the name and the titles. */
static void draw_attributes(tb_rng *r, author_ids *au) {
    au->id[A_GENDER] = au->gender;
    au->id[A_BIRTH_YEAR] = (int)tb_rng_below(r, (uint64_t)value_space(A_BIRTH_YEAR));
    au->id[A_BIRTHPLACE] = (int)tb_rng_below(r, (uint64_t)value_space(A_BIRTHPLACE));
    au->id[A_GENRE] = (int)tb_rng_below(r, (uint64_t)value_space(A_GENRE));
    au->id[A_FATHER] = (int)tb_rng_below(r, (uint64_t)value_space(A_FATHER));
    au->id[A_MOTHER] = (int)tb_rng_below(r, (uint64_t)value_space(A_MOTHER));
    au->id[A_AWARD] = (int)tb_rng_below(r, (uint64_t)value_space(A_AWARD));
    int born = BIRTH_FIRST + au->id[A_BIRTH_YEAR];
    int lo = born + 20, hi = born + 64 < AWARD_YEAR_LAST ? born + 64 : AWARD_YEAR_LAST;
    au->id[A_AWARD_YEAR] = lo + (int)tb_rng_below(r, (uint64_t)(hi - lo + 1)) - AWARD_YEAR_FIRST;
}

/* n distinct values of attribute a, none equal to the author's own (both titles for a book). */
static void draw_perturbed(tb_rng *r, int a, const author_ids *au, int *out, int n) {
    int space = value_space(a);
    for (int k = 0; k < n;) {
        int v = (int)tb_rng_below(r, (uint64_t)space);
        int taken =
            v == au->id[a] || ((a == A_BOOK1 || a == A_BOOK2) && (v == au->id[A_BOOK1] || v == au->id[A_BOOK2]));
        for (int j = 0; j < k && !taken; j++) taken = out[j] == v;
        if (!taken) out[k++] = v;
    }
}

/* ---- rendering -------------------------------------------------------------------------------- */

typedef struct {
    char text[TEXT_CAP];
    size_t n;
} line_buf;

static void put(line_buf *b, const char *s, size_t n) {
    TB_ASSERT(b->n + n < TEXT_CAP); /* the templates and values above are short */
    memcpy(b->text + b->n, s, n);
    b->n += n;
    b->text[b->n] = '\0';
}

static void puts_cap(line_buf *b, const char *s, int capitalise) {
    size_t at = b->n;
    put(b, s, strlen(s));
    if (capitalise && b->text[at] >= 'a' && b->text[at] <= 'z') b->text[at] = (char)(b->text[at] - 'a' + 'A');
}

static int starts_with_vowel(const char *s) { return strchr("aeiouAEIOU", s[0]) != NULL; }

static int attr_by_name(const char *name, size_t len) {
    for (int a = 0; a < N_ATTRS; a++)
        if (strlen(attr_names[a]) == len && !strncmp(attr_names[a], name, len)) return a;
    return -1;
}

/* Renders template tpl for author (of the given gender) with value standing for {value}. */
static void render(line_buf *b, const char *tpl, const tb_author *author, int gender, const char *value) {
    b->n = 0;
    b->text[0] = '\0';
    for (const char *p = tpl; *p;) {
        const char *close = *p == '{' ? strchr(p, '}') : NULL;
        if (!close) {
            put(b, p++, 1);
            continue;
        }
        const char *key = p + 1;
        size_t len = (size_t)(close - key);
        p = close + 1;
        if (len == 5 && !strncmp(key, "value", 5)) {
            puts_cap(b, value, 0);
        } else if (len == 7 && !strncmp(key, "a value", 7)) {
            puts_cap(b, starts_with_vowel(value) ? "an " : "a ", 0);
            puts_cap(b, value, 0);
        } else if (len == 2 && (!strncmp(key, "he", 2) || !strncmp(key, "He", 2))) {
            puts_cap(b, pronoun_he[gender], key[0] == 'H');
        } else if (len == 3 && (!strncmp(key, "his", 3) || !strncmp(key, "His", 3))) {
            puts_cap(b, pronoun_his[gender], key[0] == 'H');
        } else {
            int a = attr_by_name(key, len);
            TB_ASSERT(a >= 0 && "unknown template placeholder");
            puts_cap(b, author->values[a], 0);
        }
    }
}

static char *keep(tb_qa_set *s, const line_buf *b) { return tb_qa_strdup(s, b->text, b->n); }

/* ---- the set ---------------------------------------------------------------------------------- */

static void make_items(tb_qa_set *s, int k, const author_ids *au, tb_rng *r) {
    const tb_author *author = &s->authors[k];
    line_buf b;
    char value[TEXT_CAP];
    for (int q = 0; q < TB_QA_PER_AUTHOR; q++) {
        const qa_template *t = &qa_templates[q];
        tb_qa_item *it = &s->items[(long)k * TB_QA_PER_AUTHOR + q];
        it->author = k;
        it->attribute = t->attr;
        render(&b, t->question, author, au->gender, author->values[t->attr]);
        it->question = keep(s, &b);
        render(&b, t->answer, author, au->gender, author->values[t->attr]);
        it->answer = keep(s, &b);
        render(&b, t->paraphrase, author, au->gender, author->values[t->attr]);
        it->paraphrase = keep(s, &b);
        int wrong[TB_QA_MAX_PERTURBED];
        draw_perturbed(r, t->attr, au, wrong, TB_QA_MAX_PERTURBED);
        for (int j = 0; j < TB_QA_MAX_PERTURBED; j++) {
            value_text(t->attr, wrong[j], au->gender, value);
            render(&b, t->paraphrase, author, au->gender, value);
            it->perturbed[j] = keep(s, &b);
        }
        it->n_perturbed = TB_QA_MAX_PERTURBED;
    }
}

static void copy_fact(tb_qa_set *s, tb_qa_item *it, const tb_fact *f) {
    it->question = tb_qa_strdup(s, f->question, strlen(f->question));
    it->answer = tb_qa_strdup(s, f->answer, strlen(f->answer));
    it->paraphrase = NULL;
    for (int j = 0; j < 3; j++) it->perturbed[j] = tb_qa_strdup(s, f->distractors[j], strlen(f->distractors[j]));
    it->n_perturbed = 3;
    it->author = -1;
    it->attribute = -1;
}

static void copy_world_facts(tb_qa_set *s) {
    const tb_fact *facts;
    int n = tb_world_facts(&facts);
    long famous = 0, world = 0;
    for (int i = 0; i < n; i++) {
        int is_author = strcmp(facts[i].kind, "author") == 0;
        copy_fact(s, is_author ? &s->famous[famous++] : &s->world[world++], &facts[i]);
    }
    TB_ASSERT(famous == s->n_famous && world == s->n_world);
}

int tb_qa_generate(tb_qa_set *s, uint64_t seed, int n_authors, int n_holdout) {
    memset(s, 0, sizeof *s);
    const int max_authors = N_TITLES / 2 < 2 * NAMES_PER_GENDER ? N_TITLES / 2 : 2 * NAMES_PER_GENDER;
    if (n_authors < 1 || n_holdout < 0 || n_holdout > max_authors - n_authors)
        return TB_ERROR(TB_ERR_ARG, "ask for at least 1 trained author and at most the maximum in all",
                        "cannot generate %d trained and %d holdout authors: the built-in lists keep at most %d "
                        "authors unique", n_authors, n_holdout, max_authors);
    const tb_fact *facts;
    int n_facts = tb_world_facts(&facts), n_famous = 0;
    for (int i = 0; i < n_facts; i++) n_famous += strcmp(facts[i].kind, "author") == 0;
    const int n_total = n_authors + n_holdout;
    tb_qa_alloc(s, N_ATTRS, n_authors, n_holdout, (long)n_total * TB_QA_PER_AUTHOR, n_famous, n_facts - n_famous);
    s->seed = seed;
    for (int a = 0; a < N_ATTRS; a++) s->attr_names[a] = tb_qa_strdup(s, attr_names[a], strlen(attr_names[a]));

    const uint64_t stream = tb_rng_stream_id("authors");
    tb_rng names_rng = tb_rng_make(seed, stream), titles_rng = tb_rng_make(seed, stream + 1);
    int *names = tb_malloc((size_t)2 * NAMES_PER_GENDER * sizeof *names);
    int *titles = tb_malloc((size_t)N_TITLES * sizeof *titles);
    partial_shuffle(&names_rng, names, 2 * NAMES_PER_GENDER, n_total);
    partial_shuffle(&titles_rng, titles, N_TITLES, 2 * n_total);

    char value[TEXT_CAP];
    for (int k = 0; k < n_total; k++) {
        tb_rng r = tb_rng_make(seed, stream + 2 + (uint64_t)k);
        author_ids au;
        au.gender = names[k] / NAMES_PER_GENDER;
        au.id[A_NAME] = names[k] % NAMES_PER_GENDER;
        au.id[A_BOOK1] = titles[2 * k];
        au.id[A_BOOK2] = titles[2 * k + 1];
        draw_attributes(&r, &au);
        tb_author *author = &s->authors[k];
        for (int a = 0; a < N_ATTRS; a++) {
            value_text(a, au.id[a], au.gender, value);
            author->values[a] = tb_qa_strdup(s, value, strlen(value));
        }
        author->name = author->values[A_NAME];
        make_items(s, k, &au, &r);
    }
    tb_free(names);
    tb_free(titles);
    copy_world_facts(s);
    return TB_OK;
}
