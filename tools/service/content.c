/*
 * content.c - the pages of the local service: the pokedex (the blog's
 * pokemondb.net pages, reduced to what its scraper reads: the first <h1>),
 * the 64 sponsors' pages of the "Concurrent Programming" notes (which of
 * them mention Python and which two answer 403 follow the seed's printed
 * run), the course notes' two download_site pages (/jython, /dice) and the
 * index.  All of it is our own text, generated; pages are built per request
 * into a heap buffer (a few KiB; /jython about 20 KiB, like the real site's
 * front page).  No state but a once-built table: safe from any thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc_internal.h"

/* ------------------------------------------------------------ a buffer */

/* A growing text buffer; `failed` once a growth failed (then every later
 * append does nothing and sb_done returns NULL). */
typedef struct sb {
    char *p;
    size_t len;
    size_t cap;
    bool failed;
} sb;

static void sb_printf(sb *b, const char *fmt, ...) CC_PRINTF(2, 3);

static void sb_printf(sb *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed)
        return;
    for (;;) {
        size_t room = b->cap - b->len;

        va_start(ap, fmt);
        n = vsnprintf(b->p == NULL ? NULL : b->p + b->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap == 0 ? 4096 : b->cap;
        while (cap - b->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* The text and its length, or NULL with ENOMEM. */
static char *sb_done(sb *b, size_t *len)
{
    if (b->failed || b->p == NULL) {
        free(b->p);
        errno = ENOMEM;
        return NULL;
    }
    *len = b->len;
    return b->p;
}

static void page_head(sb *b, const char *title)
{
    sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
                 "<meta charset=\"utf-8\">\n<title>%s</title>\n"
                 "<meta name=\"viewport\" content=\"width=device-width\">\n"
                 "</head>\n<body>\n", title);
}

static void page_tail(sb *b)
{
    sb_printf(b, "<footer><p>Served by concur's local service: every "
                 "page here is made up, for offline examples.</p></footer>\n"
                 "</body>\n</html>\n");
}

/* -------------------------------------------------------------- pokedex */

static const char *const pokemon[] = {
    "Bulbasaur", "Ivysaur", "Venusaur", "Charmander", "Charmeleon",
    "Charizard", "Squirtle", "Wartortle", "Blastoise", "Caterpie",
    "Metapod", "Butterfree", "Weedle", "Kakuna", "Beedrill", "Pidgey",
    "Pidgeotto", "Pidgeot", "Rattata", "Raticate", "Spearow", "Fearow",
    "Ekans", "Arbok", "Pikachu", "Raichu", "Sandshrew", "Sandslash",
    "Nidoran\u2640", "Nidorina", "Nidoqueen", "Nidoran\u2642", "Nidorino",
    "Nidoking", "Clefairy", "Clefable", "Vulpix", "Ninetales", "Jigglypuff",
    "Wigglytuff", "Zubat", "Golbat", "Oddish", "Gloom", "Vileplume", "Paras",
    "Parasect", "Venonat", "Venomoth", "Diglett", "Dugtrio", "Meowth",
    "Persian", "Psyduck", "Golduck", "Mankey", "Primeape", "Growlithe",
    "Arcanine", "Poliwag", "Poliwhirl", "Poliwrath", "Abra", "Kadabra",
    "Alakazam", "Machop", "Machoke", "Machamp", "Bellsprout", "Weepinbell",
    "Victreebel", "Tentacool", "Tentacruel", "Geodude", "Graveler", "Golem",
    "Ponyta", "Rapidash", "Slowpoke", "Slowbro", "Magnemite", "Magneton",
    "Farfetch'd", "Doduo", "Dodrio", "Seel", "Dewgong", "Grimer", "Muk",
    "Shellder", "Cloyster", "Gastly", "Haunter", "Gengar", "Onix", "Drowzee",
    "Hypno", "Krabby", "Kingler", "Voltorb", "Electrode", "Exeggcute",
    "Exeggutor", "Cubone", "Marowak", "Hitmonlee", "Hitmonchan", "Lickitung",
    "Koffing", "Weezing", "Rhyhorn", "Rhydon", "Chansey", "Tangela",
    "Kangaskhan", "Horsea", "Seadra", "Goldeen", "Seaking", "Staryu",
    "Starmie", "Mr. Mime", "Scyther", "Jynx", "Electabuzz", "Magmar",
    "Pinsir", "Tauros", "Magikarp", "Gyarados", "Lapras", "Ditto", "Eevee",
    "Vaporeon", "Jolteon", "Flareon", "Porygon", "Omanyte", "Omastar",
    "Kabuto", "Kabutops", "Aerodactyl", "Snorlax", "Articuno", "Zapdos",
    "Moltres", "Dratini", "Dragonair", "Dragonite", "Mewtwo", "Mew",
};
#define NPOKEMON (sizeof(pokemon) / sizeof(pokemon[0]))
_Static_assert(NPOKEMON == 151, "the first generation has 151 Pokemon");

char *svc_pokedex_page(long n, size_t *len)
{
    sb b = {0};
    char title[96];
    const char *name;

    if (n < 1 || n > (long)NPOKEMON) {
        errno = ENOENT;
        return NULL;
    }
    name = pokemon[n - 1];
    snprintf(title, sizeof(title), "%s Pok\u00e9dex: stats, moves, evolution "
             "and locations", name);
    page_head(&b, title);
    sb_printf(&b, "<nav><a href=\"/pokedex/\">Pok\u00e9dex</a> &gt; "
                  "National</nav>\n<main>\n<h1>%s</h1>\n", name);
    sb_printf(&b, "<p><em>%s</em> is entry %03ld of the National "
                  "Pok\u00e9dex, among the first generation.</p>\n",
              name, n);
    sb_printf(&b, "<table class=\"vitals\">\n<tr><th>National \u2116</th>"
                  "<td><strong>%04ld</strong></td></tr>\n", n);
    /* Made-up but stable vitals, so pages differ in more than the name. */
    sb_printf(&b, "<tr><th>Height</th><td>%ld.%ld m</td></tr>\n"
                  "<tr><th>Weight</th><td>%ld.%ld kg</td></tr>\n"
                  "<tr><th>Base total</th><td>%ld</td></tr>\n</table>\n",
              n % 3, (n * 7) % 10, 5 + (n * 13) % 90, (n * 3) % 10,
              250 + (n * 37) % 330);
    sb_printf(&b, "<h2>Evolution chart</h2>\n<ul>\n");
    for (long i = (n > 1 ? n - 1 : n); i <= n + 1 && i <= (long)NPOKEMON; i++)
        sb_printf(&b, "<li><a href=\"/pokedex/%ld\">#%03ld %s</a></li>\n",
                  i, i, pokemon[i - 1]);
    sb_printf(&b, "</ul>\n<h2>Pok\u00e9dex entries</h2>\n");
    for (int i = 0; i < 6; i++)
        sb_printf(&b, "<p>Entry %d: %s is seen in field %d of the survey; "
                      "its habits were noted on expedition %ld.</p>\n",
                  i + 1, name, (int)((n + i) % 12) + 1, n * 10 + i);
    sb_printf(&b, "</main>\n");
    page_tail(&b);
    return sb_done(&b, len);
}

/* ------------------------------------------------------------- sponsors */

enum { S_PYTHON = 1, S_FORBIDDEN = 2 };

/* The seed's urls.txt, in its order: "/sponsors/<host>/".  S_PYTHON marks
 * the 20 pages its sequential run prints as containing "Python";
 * S_FORBIDDEN the two that answer 403 (www.enthought.com, www.acties.nl). */
static const struct {
    const char *path;
    int flags;
} sponsors[] = {
    {"/sponsors/research.fb.com/", 0},
    {"/sponsors/www.capitalone.com/", 0},
    {"/sponsors/www.fastly.com/", 0},
    {"/sponsors/www.rackspace.com/", 0},
    {"/sponsors/aws.amazon.com/", S_PYTHON},
    {"/sponsors/www.google.com/", 0},
    {"/sponsors/www.techatbloomberg.com/", 0},
    {"/sponsors/www.redhat.com/", 0},
    {"/sponsors/www.indeed.com/", 0},
    {"/sponsors/www.microsoft.com/", 0},
    {"/sponsors/travis-ci.com/", 0},
    {"/sponsors/www.heroku.com/", S_PYTHON},
    {"/sponsors/www.union-investment.de/", 0},
    {"/sponsors/zapier.com/", 0},
    {"/sponsors/edgestreamlp.com/", 0},
    {"/sponsors/www.enthought.com/", S_FORBIDDEN},
    {"/sponsors/hostingfacts.com/", 0},
    {"/sponsors/www.aqr.com/", 0},
    {"/sponsors/adimian.com/", S_PYTHON},
    {"/sponsors/m.do.co/", 0},
    {"/sponsors/signalfx.com/", 0},
    {"/sponsors/www.activestate.com/", S_PYTHON},
    {"/sponsors/www.oreilly.com/", S_PYTHON},
    {"/sponsors/www.bizrate.com/", 0},
    {"/sponsors/www.eyesopen.com/", S_PYTHON},
    {"/sponsors/www.knmp.nl/", 0},
    {"/sponsors/lincolnloop.com/", S_PYTHON},
    {"/sponsors/anaconda.com/", S_PYTHON},
    {"/sponsors/infinite-code.com/", S_PYTHON},
    {"/sponsors/www.webucator.com/", S_PYTHON},
    {"/sponsors/tivix.com/", 0},
    {"/sponsors/www.pythonanywhere.com/", S_PYTHON},
    {"/sponsors/www.stickermule.com/", 0},
    {"/sponsors/www.stickeryou.com/", 0},
    {"/sponsors/www.acties.nl/", S_FORBIDDEN},
    {"/sponsors/dev.ngo/", S_PYTHON},
    {"/sponsors/fusionbox.com/", S_PYTHON},
    {"/sponsors/newlogic.io/", S_PYTHON},
    {"/sponsors/odoo-community.org/", 0},
    {"/sponsors/www.opendataservices.coop/", 0},
    {"/sponsors/www.solden.be/", 0},
    {"/sponsors/www.1korting.com/", 0},
    {"/sponsors/www.airportrentals.com/", 0},
    {"/sponsors/bespaardeals.nl/", 0},
    {"/sponsors/www.mesika.org/", 0},
    {"/sponsors/www.verzekeringvergelijk.nl/", 0},
    {"/sponsors/www.python-academy.com/", S_PYTHON},
    {"/sponsors/www.datacamp.com/", S_PYTHON},
    {"/sponsors/www.accelebrate.com/", S_PYTHON},
    {"/sponsors/www.ukwebhostreview.com/", 0},
    {"/sponsors/crosscompute.com/", 0},
    {"/sponsors/www.hostpapa.com/", 0},
    {"/sponsors/www.revsys.com/", S_PYTHON},
    {"/sponsors/www.confirm.ch/", S_PYTHON},
    {"/sponsors/www.motorhomerepublic.com/", 0},
    {"/sponsors/vpndiensten.nl/", 0},
    {"/sponsors/www.yourlabs.biz/", 0},
    {"/sponsors/pythoninstitute.org/", S_PYTHON},
    {"/sponsors/www.vpngids.nl/", 0},
    {"/sponsors/www.cisin.com/", 0},
    {"/sponsors/www.hrank.com/", 0},
    {"/sponsors/www.hostinger.com/", 0},
    {"/sponsors/icons8.com/", 0},
    {"/sponsors/www.surveymonkey.com/", 0},
};
#define NSPONSORS (sizeof(sponsors) / sizeof(sponsors[0]))
_Static_assert(NSPONSORS == 64, "the seed checks 64 sponsor URLs");

/* svc_sponsor_paths' array: built once, NULL-terminated. */
static const char *sponsor_paths[NSPONSORS + 1];
static pthread_once_t sponsor_once = PTHREAD_ONCE_INIT;

static void sponsor_paths_init(void)
{
    for (size_t i = 0; i < NSPONSORS; i++)
        sponsor_paths[i] = sponsors[i].path;
    sponsor_paths[NSPONSORS] = NULL;
}

const char *const *svc_sponsor_paths(void)
{
    pthread_once(&sponsor_once, sponsor_paths_init);
    return sponsor_paths;
}

size_t svc_sponsor_count(void)
{
    return NSPONSORS;
}

char *svc_sponsor_page(const char *path, int *status, size_t *len)
{
    size_t plen = strlen(path);
    size_t i;
    sb b = {0};
    char host[80];

    for (i = 0; i < NSPONSORS; i++) {
        size_t slen = strlen(sponsors[i].path);

        /* "/sponsors/host/" or "/sponsors/host" */
        if (strcmp(sponsors[i].path, path) == 0 ||
            (plen + 1 == slen && memcmp(sponsors[i].path, path, plen) == 0))
            break;
    }
    if (i == NSPONSORS) {
        errno = ENOENT;
        return NULL;
    }
    snprintf(host, sizeof(host), "%.*s",
             (int)(strlen(sponsors[i].path) - strlen("/sponsors/") - 1),
             sponsors[i].path + strlen("/sponsors/"));
    if (sponsors[i].flags & S_FORBIDDEN) {
        *status = 403;
        page_head(&b, "403 Forbidden");
        sb_printf(&b, "<h1>Forbidden</h1>\n<p>Access to %s is denied to "
                      "automated clients.</p>\n", host);
        page_tail(&b);
        return sb_done(&b, len);
    }
    *status = 200;
    page_head(&b, host);
    sb_printf(&b, "<header><h1>%s</h1><p>Proud sponsor of an open source "
                  "software foundation.</p></header>\n<main>\n", host);
    for (int k = 0; k < 8; k++)
        sb_printf(&b, "<section><h2>Section %d</h2><p>At %s we ship "
                      "products our customers rely on every day. Team %d "
                      "works on reliability, performance and support; read "
                      "about our services, careers and events.</p>"
                      "</section>\n", k + 1, host, (int)(i * 8 + k));
    if (sponsors[i].flags & S_PYTHON)
        sb_printf(&b, "<section><h2>Open source</h2><p>Much of our "
                      "stack is written in Python, and we give back to the "
                      "Python community through sponsorship and talks."
                      "</p></section>\n");
    sb_printf(&b, "</main>\n");
    page_tail(&b);
    return sb_done(&b, len);
}

/* ------------------------------------------------ jython, dice, index */

char *svc_jython_page(size_t *len)
{
    sb b = {0};

    page_head(&b, "Home | Jython");
    sb_printf(&b, "<header><h1>Jython</h1><p>Python for the Java "
                  "Platform</p></header>\n<main>\n");
    /* About 20 KiB, like the front page the course notes download. */
    for (int i = 0; i < 72; i++)
        sb_printf(&b, "<article><h2>Note %d</h2><p>Jython runs Python "
                      "code on the Java virtual machine and lets it import "
                      "and use any Java class. Release note %d covers "
                      "fixes to the standard library, the compiler and the "
                      "interactive console.</p><p><a href=\"/jython/notes/"
                      "%d\">Read more</a></p></article>\n", i + 1, 240 - i,
                  i + 1);
    sb_printf(&b, "</main>\n");
    page_tail(&b);
    return sb_done(&b, len);
}

char *svc_dice_page(int roll, size_t *len)
{
    sb b = {0};

    page_head(&b, "Roll the dice");
    sb_printf(&b, "<h1>Roll the dice</h1>\n<p>Click the button to roll a "
                  "six-sided die.</p>\n<p class=\"die\" data-roll=\"%d\">"
                  "You rolled a %d.</p>\n<form method=\"get\" "
                  "action=\"/dice\"><button>Roll again</button></form>\n",
              roll, roll);
    page_tail(&b);
    return sb_done(&b, len);
}

char *svc_index_page(size_t *len)
{
    sb b = {0};

    page_head(&b, "concur serve");
    sb_printf(&b, "<h1>concur serve</h1>\n<p>The local stand-in for the "
                  "remote services of the examples.</p>\n<ul>\n"
                  "<li><a href=\"/rates?base=USD\">/rates?base=XXX</a>: "
                  "exchange rates as JSON</li>\n"
                  "<li><a href=\"/pokedex/1\">/pokedex/N</a>: Pok\u00e9mon "
                  "N (1..151), its name in the first &lt;h1&gt;</li>\n"
                  "<li><a href=\"%s\">/sponsors/HOST/</a>: the %zu sponsor "
                  "pages</li>\n<li><a href=\"/jython\">/jython</a> and "
                  "<a href=\"/dice\">/dice</a>: the course notes' download "
                  "pages</li>\n<li>POST /echo: the request body back</li>\n"
                  "</ul>\n", sponsors[0].path, NSPONSORS);
    page_tail(&b);
    return sb_done(&b, len);
}
