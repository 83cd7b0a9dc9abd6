/* doc.c: report documents and their Markdown, HTML and CSV writers (see
 * doc.h).  Allocation failures abort: a report that cannot allocate a few
 * kilobytes has nothing useful left to do, and every caller would otherwise
 * have to thread an error through hundreds of formatting calls. */
#include "reports/doc.h"

#include <stdlib.h>
#include <string.h>

#include "reports/svg_chart.h"

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("strata: out of memory\n", stderr);
		abort();
	}
	return q;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = xrealloc(NULL, n);
	memcpy(d, s, n);
	return d;
}

/* ---- string builder ----------------------------------------------------- */

void strata_sb_vprintf(struct strata_sb *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		b->s = xrealloc(b->s, cap);
		b->cap = cap;
	}
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void strata_sb_printf(struct strata_sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	strata_sb_vprintf(b, fmt, ap);
	va_end(ap);
}

void strata_sb_puts(struct strata_sb *b, const char *s)
{
	strata_sb_printf(b, "%s", s);
}

char *strata_sb_take(struct strata_sb *b)
{
	char *s = b->s ? b->s : xstrdup("");
	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void strata_sb_release(struct strata_sb *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

static char *vformat(const char *fmt, va_list ap)
{
	struct strata_sb b = {0};
	strata_sb_vprintf(&b, fmt, ap);
	return strata_sb_take(&b);
}

/* ---- documents ---------------------------------------------------------- */

void strata_doc_init(struct strata_doc *d, const char *title)
{
	memset(d, 0, sizeof(*d));
	d->title = xstrdup(title);
	d->html_name = "report.html";
}

static struct strata_block *push(struct strata_doc *d, enum strata_block_kind kind)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 32;
		d->blocks = xrealloc(d->blocks, d->cap * sizeof(*d->blocks));
	}
	struct strata_block *b = &d->blocks[d->n++];
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	return b;
}

void strata_doc_heading(struct strata_doc *d, int level, const char *fmt, ...)
{
	struct strata_block *b = push(d, STRATA_BLOCK_HEADING);
	b->level = level;
	va_list ap;
	va_start(ap, fmt);
	b->text = vformat(fmt, ap);
	va_end(ap);
}

void strata_doc_para(struct strata_doc *d, const char *fmt, ...)
{
	struct strata_block *b = push(d, STRATA_BLOCK_PARA);
	va_list ap;
	va_start(ap, fmt);
	b->text = vformat(fmt, ap);
	va_end(ap);
}

void strata_doc_item(struct strata_doc *d, const char *fmt, ...)
{
	struct strata_block *b = push(d, STRATA_BLOCK_ITEM);
	va_list ap;
	va_start(ap, fmt);
	b->text = vformat(fmt, ap);
	va_end(ap);
}

void strata_doc_pre(struct strata_doc *d, const char *text)
{
	push(d, STRATA_BLOCK_PRE)->text = xstrdup(text);
}

struct strata_table *strata_table_new(size_t n_cols, const char *const *head)
{
	struct strata_table *t = xrealloc(NULL, sizeof(*t));
	memset(t, 0, sizeof(*t));
	t->n_cols = n_cols;
	t->head = xrealloc(NULL, n_cols * sizeof(*t->head));
	for (size_t i = 0; i < n_cols; i++)
		t->head[i] = xstrdup(head[i]);
	t->next = n_cols;
	return t;
}

struct strata_table *strata_doc_table(struct strata_doc *d, size_t n_cols, ...)
{
	const char *head[64];
	va_list ap;
	va_start(ap, n_cols);
	for (size_t i = 0; i < n_cols && i < 64; i++)
		head[i] = va_arg(ap, const char *);
	va_end(ap);
	return strata_doc_table_a(d, n_cols < 64 ? n_cols : 64, head);
}

struct strata_table *strata_doc_table_a(struct strata_doc *d, size_t n_cols,
                                        const char *const *head)
{
	struct strata_block *b = push(d, STRATA_BLOCK_TABLE);
	b->table = strata_table_new(n_cols, head);
	return b->table;
}

void strata_table_free(struct strata_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_cols; i++)
		free(t->head[i]);
	for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->head);
	free(t->cells);
	free(t);
}

void strata_table_row(struct strata_table *t)
{
	if (t->n_rows == t->cap_rows) {
		t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 16;
		t->cells = xrealloc(t->cells, t->cap_rows * t->n_cols * sizeof(*t->cells));
	}
	memset(t->cells + t->n_rows * t->n_cols, 0, t->n_cols * sizeof(*t->cells));
	t->n_rows++;
	t->next = 0;
}

void strata_table_cell(struct strata_table *t, const char *fmt, ...)
{
	if (t->n_rows == 0 || t->next >= t->n_cols)
		return; /* a cell beyond the row's columns is a caller bug; drop it */
	va_list ap;
	va_start(ap, fmt);
	t->cells[(t->n_rows - 1) * t->n_cols + t->next++] = vformat(fmt, ap);
	va_end(ap);
}

void strata_doc_chart(struct strata_doc *d, struct strata_chart *chart)
{
	push(d, STRATA_BLOCK_CHART)->chart = chart;
}

void strata_doc_release(struct strata_doc *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->blocks[i].text);
		strata_table_free(d->blocks[i].table);
		strata_chart_free(d->blocks[i].chart);
	}
	free(d->blocks);
	free(d->title);
	memset(d, 0, sizeof(*d));
}

/* ---- Markdown ----------------------------------------------------------- */

static void md_cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if (*s == '\n')
			fputs("<br>", out);
		else
			fputc(*s, out);
	}
}

static void md_table(const struct strata_table *t, FILE *out)
{
	fputc('|', out);
	for (size_t c = 0; c < t->n_cols; c++) {
		fputc(' ', out);
		md_cell(out, t->head[c]);
		fputs(" |", out);
	}
	fputs("\n|", out);
	for (size_t c = 0; c < t->n_cols; c++)
		fputs("---|", out);
	fputc('\n', out);
	for (size_t r = 0; r < t->n_rows; r++) {
		fputc('|', out);
		for (size_t c = 0; c < t->n_cols; c++) {
			fputc(' ', out);
			md_cell(out, t->cells[r * t->n_cols + c]);
			fputs(" |", out);
		}
		fputc('\n', out);
	}
}

void strata_doc_write_md(const struct strata_doc *d, FILE *out)
{
	fprintf(out, "# %s\n\n", d->title);
	for (size_t i = 0; i < d->n; i++) {
		const struct strata_block *b = &d->blocks[i];
		int next_is_item = i + 1 < d->n && d->blocks[i + 1].kind == STRATA_BLOCK_ITEM;
		switch (b->kind) {
		case STRATA_BLOCK_HEADING:
			for (int l = 0; l < b->level + 1 && l < 6; l++)
				fputc('#', out);
			fprintf(out, " %s\n\n", b->text);
			break;
		case STRATA_BLOCK_PARA:
			fprintf(out, "%s\n\n", b->text);
			break;
		case STRATA_BLOCK_ITEM:
			fprintf(out, "- %s\n%s", b->text, next_is_item ? "" : "\n");
			break;
		case STRATA_BLOCK_PRE:
			fprintf(out, "```\n%s%s```\n\n", b->text,
			        b->text[0] && b->text[strlen(b->text) - 1] == '\n' ? "" : "\n");
			break;
		case STRATA_BLOCK_TABLE:
			md_table(b->table, out);
			fputc('\n', out);
			break;
		case STRATA_BLOCK_CHART:
			fprintf(out, "_Chart: %s (in %s)._\n\n", b->chart->title, d->html_name);
			break;
		}
	}
}

/* ---- HTML --------------------------------------------------------------- */

void strata_html_escape(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* Escape, and turn **x** into <strong>x</strong> and `x` into <code>x</code>
 * (an unmatched mark is printed as it is). */
static void html_inline(FILE *out, const char *s)
{
	int strong = 0, code = 0;
	for (; s && *s; s++) {
		if (!code && s[0] == '*' && s[1] == '*' && (strong || strstr(s + 2, "**"))) {
			fputs(strong ? "</strong>" : "<strong>", out);
			strong = !strong;
			s++;
		} else if (*s == '`' && (code || strchr(s + 1, '`'))) {
			fputs(code ? "</code>" : "<code>", out);
			code = !code;
		} else if (*s == '\n') {
			fputs("<br>", out);
		} else {
			char c[2] = {*s, 0};
			strata_html_escape(out, c);
		}
	}
	if (code)
		fputs("</code>", out);
	if (strong)
		fputs("</strong>", out);
}

static const char *const CSS =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2em auto;"
    "max-width:1100px;padding:0 1em;color:#1a1a1a;line-height:1.45}"
    "h1{font-size:1.6em;border-bottom:2px solid #ccc;padding-bottom:.2em}"
    "h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #ddd}"
    "h3{font-size:1.1em}"
    "table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.88em}"
    "th,td{border:1px solid #ccc;padding:.25em .55em;text-align:left;vertical-align:top}"
    "th{background:#f2f2f2}tr:nth-child(even) td{background:#fafafa}"
    "code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;background:#f4f4f4;"
    "padding:0 .2em}"
    "pre{background:#f6f6f6;padding:.7em;overflow-x:auto;font-size:.88em}"
    "figure{margin:1em 0 1.6em}figcaption{font-size:.85em;color:#555}"
    "svg.strata-chart{max-width:100%;height:auto;border:1px solid #e3e3e3;background:#fff}";

static void html_table(const struct strata_table *t, FILE *out)
{
	fputs("<table>\n<thead><tr>", out);
	for (size_t c = 0; c < t->n_cols; c++) {
		fputs("<th>", out);
		html_inline(out, t->head[c]);
		fputs("</th>", out);
	}
	fputs("</tr></thead>\n<tbody>\n", out);
	for (size_t r = 0; r < t->n_rows; r++) {
		fputs("<tr>", out);
		for (size_t c = 0; c < t->n_cols; c++) {
			fputs("<td>", out);
			html_inline(out, t->cells[r * t->n_cols + c]);
			fputs("</td>", out);
		}
		fputs("</tr>\n", out);
	}
	fputs("</tbody>\n</table>\n", out);
}

void strata_doc_write_html(const struct strata_doc *d, FILE *out)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
	      out);
	strata_html_escape(out, d->title);
	fprintf(out, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", CSS);
	html_inline(out, d->title);
	fputs("</h1>\n", out);
	int in_list = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct strata_block *b = &d->blocks[i];
		if (b->kind == STRATA_BLOCK_ITEM && !in_list) {
			fputs("<ul>\n", out);
			in_list = 1;
		} else if (b->kind != STRATA_BLOCK_ITEM && in_list) {
			fputs("</ul>\n", out);
			in_list = 0;
		}
		switch (b->kind) {
		case STRATA_BLOCK_HEADING: {
			int h = b->level + 1 > 6 ? 6 : b->level + 1;
			fprintf(out, "<h%d>", h);
			html_inline(out, b->text);
			fprintf(out, "</h%d>\n", h);
			break;
		}
		case STRATA_BLOCK_PARA:
			fputs("<p>", out);
			html_inline(out, b->text);
			fputs("</p>\n", out);
			break;
		case STRATA_BLOCK_ITEM:
			fputs("<li>", out);
			html_inline(out, b->text);
			fputs("</li>\n", out);
			break;
		case STRATA_BLOCK_PRE:
			fputs("<pre>", out);
			strata_html_escape(out, b->text);
			fputs("</pre>\n", out);
			break;
		case STRATA_BLOCK_TABLE:
			html_table(b->table, out);
			break;
		case STRATA_BLOCK_CHART:
			fputs("<figure>\n", out);
			strata_chart_write_svg(b->chart, out);
			if (b->chart->note) {
				fputs("<figcaption>", out);
				html_inline(out, b->chart->note);
				fputs("</figcaption>\n", out);
			}
			fputs("</figure>\n", out);
			break;
		}
	}
	if (in_list)
		fputs("</ul>\n", out);
	fputs("</body>\n</html>\n", out);
}

/* ---- CSV ---------------------------------------------------------------- */

static void csv_field(FILE *out, const char *s)
{
	if (!s)
		return;
	int quote = strpbrk(s, ",\"\n\r") != NULL;
	if (quote)
		fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputs("\"\"", out);
		else if (*s == '*' && s[1] == '*')
			s++; /* markup */
		else if (*s != '`')
			fputc(*s, out);
	}
	if (quote)
		fputc('"', out);
}

void strata_table_write_csv(const struct strata_table *t, FILE *out)
{
	for (size_t c = 0; c < t->n_cols; c++) {
		if (c)
			fputc(',', out);
		csv_field(out, t->head[c]);
	}
	fputs("\r\n", out);
	for (size_t r = 0; r < t->n_rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			if (c)
				fputc(',', out);
			csv_field(out, t->cells[r * t->n_cols + c]);
		}
		fputs("\r\n", out);
	}
}
