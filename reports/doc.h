/* doc.h: a report as a list of blocks (headings, paragraphs, list items,
 * tables, charts, preformatted text), built once and rendered as Markdown,
 * as one self-contained HTML page, or (tables) as CSV.  Every report command
 * builds a doc, so the three formats always say the same thing.
 *
 * Inline markup in text: **bold** and `code`, nothing else.  The Markdown
 * writer passes it through (escaping '|' inside table cells); the HTML
 * writer escapes the text and turns the two marks into <strong>/<code>.
 *
 * Not a general document model: no nesting, no links, no images but the
 * inline SVG charts of svg_chart.h (which the Markdown writer replaces by a
 * one-line pointer to the HTML file).
 */
#ifndef STRATA_DOC_H
#define STRATA_DOC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

struct strata_chart;

/* A growable NUL-terminated string. */
struct strata_sb {
	char *s;
	size_t len, cap;
};

void strata_sb_printf(struct strata_sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strata_sb_vprintf(struct strata_sb *b, const char *fmt, va_list ap);
void strata_sb_puts(struct strata_sb *b, const char *s);
/* Take the string (never NULL: "" when empty); the buffer is reset. */
char *strata_sb_take(struct strata_sb *b);
void strata_sb_release(struct strata_sb *b);

/* A table: a header row and cells added row by row. */
struct strata_table {
	size_t n_cols;
	char **head;  /* (n_cols) */
	char **cells; /* (n_rows * n_cols), row-major; NULL cells render empty */
	size_t n_rows, cap_rows;
	size_t next; /* next cell of the last row */
};

enum strata_block_kind {
	STRATA_BLOCK_HEADING,
	STRATA_BLOCK_PARA,
	STRATA_BLOCK_ITEM, /* consecutive items make one bulleted list */
	STRATA_BLOCK_TABLE,
	STRATA_BLOCK_CHART,
	STRATA_BLOCK_PRE,
};

struct strata_block {
	enum strata_block_kind kind;
	int level;  /* heading 1..4 */
	char *text; /* heading, paragraph, item, pre; table caption (may be NULL) */
	struct strata_table *table;
	struct strata_chart *chart;
};

struct strata_doc {
	char *title;
	struct strata_block *blocks;
	size_t n, cap;
	const char *html_name; /* what the Markdown writer calls the HTML file */
};

void strata_doc_init(struct strata_doc *d, const char *title);
void strata_doc_release(struct strata_doc *d);

void strata_doc_heading(struct strata_doc *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void strata_doc_para(struct strata_doc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strata_doc_item(struct strata_doc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strata_doc_pre(struct strata_doc *d, const char *text);
/* A new table with n_cols columns whose headers follow as const char *. */
struct strata_table *strata_doc_table(struct strata_doc *d, size_t n_cols, ...);
/* The same with the headers in an array. */
struct strata_table *strata_doc_table_a(struct strata_doc *d, size_t n_cols,
                                        const char *const *head);
/* Takes ownership of chart. */
void strata_doc_chart(struct strata_doc *d, struct strata_chart *chart);

/* Tables also exist outside documents (CSV only). */
struct strata_table *strata_table_new(size_t n_cols, const char *const *head);
void strata_table_free(struct strata_table *t);
void strata_table_row(struct strata_table *t);
void strata_table_cell(struct strata_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void strata_doc_write_md(const struct strata_doc *d, FILE *out);
void strata_doc_write_html(const struct strata_doc *d, FILE *out);
/* RFC 4180 CSV (fields quoted when they hold a comma, quote or newline;
 * markup marks removed). */
void strata_table_write_csv(const struct strata_table *t, FILE *out);

/* Escape text for HTML element content and attribute values. */
void strata_html_escape(FILE *out, const char *s);

#endif
