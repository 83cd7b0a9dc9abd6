/* svg_chart.c: draw a strata_chart as inline SVG (see svg_chart.h).
 * Pure output: nothing here decides what is charted. */
#include "reports/svg_chart.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reports/doc.h"

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fputs("strata: out of memory\n", stderr);
		abort();
	}
	return q;
}

static char *dup_or_null(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = xrealloc(NULL, n);
	memcpy(d, s, n);
	return d;
}

struct strata_chart *strata_chart_new(enum strata_chart_kind kind, const char *title,
                                      const char *x_label, const char *x_unit, const char *y_label,
                                      const char *y_unit)
{
	struct strata_chart *c = xrealloc(NULL, sizeof(*c));
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->title = dup_or_null(title ? title : "");
	c->x_label = dup_or_null(x_label);
	c->x_unit = dup_or_null(x_unit);
	c->y_label = dup_or_null(y_label);
	c->y_unit = dup_or_null(y_unit);
	return c;
}

void strata_chart_free(struct strata_chart *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_series; i++) {
		free(c->series[i].name);
		free(c->series[i].x);
		free(c->series[i].y);
		free(c->series[i].box);
	}
	for (size_t i = 0; i < c->n_categories; i++)
		free(c->categories[i]);
	for (size_t i = 0; i < c->n_rows; i++)
		free(c->rows[i]);
	free(c->series);
	free(c->categories);
	free(c->rows);
	free(c->cells);
	free(c->title);
	free(c->x_label);
	free(c->x_unit);
	free(c->y_label);
	free(c->y_unit);
	free(c->note);
	free(c);
}

void strata_chart_set_note(struct strata_chart *c, const char *note)
{
	free(c->note);
	c->note = dup_or_null(note);
}

size_t strata_chart_series(struct strata_chart *c, const char *name)
{
	for (size_t i = 0; i < c->n_series; i++)
		if (!strcmp(c->series[i].name, name))
			return i;
	c->series = xrealloc(c->series, (c->n_series + 1) * sizeof(*c->series));
	struct strata_series *s = &c->series[c->n_series];
	memset(s, 0, sizeof(*s));
	s->name = dup_or_null(name);
	return c->n_series++;
}

size_t strata_chart_category(struct strata_chart *c, const char *name)
{
	for (size_t i = 0; i < c->n_categories; i++)
		if (!strcmp(c->categories[i], name))
			return i;
	c->categories = xrealloc(c->categories, (c->n_categories + 1) * sizeof(*c->categories));
	c->categories[c->n_categories] = dup_or_null(name);
	return c->n_categories++;
}

static void grow(struct strata_series *s)
{
	if (s->n < s->cap)
		return;
	s->cap = s->cap ? 2 * s->cap : 16;
	s->x = xrealloc(s->x, s->cap * sizeof(*s->x));
	s->y = xrealloc(s->y, s->cap * sizeof(*s->y));
	s->box = xrealloc(s->box, s->cap * 5 * sizeof(*s->box));
}

void strata_chart_point(struct strata_chart *c, size_t series, double x, double y)
{
	struct strata_series *s = &c->series[series];
	grow(s);
	s->x[s->n] = x;
	s->y[s->n] = y;
	s->n++;
}

void strata_chart_box(struct strata_chart *c, size_t series, size_t category, const double five[5])
{
	struct strata_series *s = &c->series[series];
	grow(s);
	s->x[s->n] = (double)category;
	s->y[s->n] = five[2];
	memcpy(s->box + 5 * s->n, five, 5 * sizeof(double));
	s->n++;
}

void strata_chart_heat(struct strata_chart *c, size_t n_rows, size_t n_cols,
                       const char *const *row_labels, const char *const *col_labels,
                       const double *values)
{
	c->rows = xrealloc(NULL, n_rows * sizeof(*c->rows));
	for (size_t i = 0; i < n_rows; i++)
		c->rows[i] = dup_or_null(row_labels[i]);
	c->n_rows = n_rows;
	for (size_t j = 0; j < n_cols; j++)
		strata_chart_category(c, col_labels[j]);
	c->cells = xrealloc(NULL, n_rows * n_cols * sizeof(*c->cells));
	memcpy(c->cells, values, n_rows * n_cols * sizeof(*c->cells));
}

size_t strata_chart_size(const struct strata_chart *c)
{
	if (c->kind == STRATA_CHART_HEATMAP)
		return c->n_rows * c->n_categories;
	size_t n = 0;
	for (size_t i = 0; i < c->n_series; i++)
		n += c->series[i].n;
	return n;
}

void strata_format_bytes(double bytes, char *buf, size_t len)
{
	static const char *const suffix[] = {"", "K", "M", "G", "T", "P"};
	int i = 0;
	while (fabs(bytes) >= 1024 && i < 5) {
		bytes /= 1024;
		i++;
	}
	snprintf(buf, len, "%g%s", bytes, suffix[i]);
}

/* ---- geometry ----------------------------------------------------------- */

enum { W = 780, H = 430, LEFT = 84, TOP = 46, LEGEND_W = 210, BOTTOM = 62, MAX_TICKS = 64 };

struct axis {
	int log; /* 0 linear, 2 or 10: base of a log axis */
	int bytes;
	double lo, hi; /* data range after nicening (linear values) */
	double ticks[MAX_TICKS];
	size_t n_ticks;
	double p0, p1; /* pixel positions of lo and hi */
};

/* Heckbert's nice number: the nice value (1, 2, 5 x 10^k) near x. */
static double nicenum(double x, int round)
{
	double e = floor(log10(x)), f = x / pow(10, e), nf;
	if (round)
		nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
	else
		nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
	return nf * pow(10, e);
}

static void axis_linear(struct axis *a, double lo, double hi)
{
	if (!(hi > lo)) {
		double pad = lo != 0 ? fabs(lo) * 0.1 : 1;
		lo -= pad;
		hi += pad;
	}
	double range = nicenum(hi - lo, 0), d = nicenum(range / 5, 1);
	a->lo = floor(lo / d) * d;
	a->hi = ceil(hi / d) * d;
	a->n_ticks = 0;
	for (double t = a->lo; t <= a->hi + 0.5 * d && a->n_ticks < MAX_TICKS; t += d)
		a->ticks[a->n_ticks++] = fabs(t) < 1e-12 * d ? 0 : t;
}

static void axis_log(struct axis *a, double lo, double hi, int base)
{
	a->log = base;
	double lb = log((double)base);
	double e0 = floor(log(lo) / lb + 1e-9), e1 = ceil(log(hi) / lb - 1e-9);
	if (e1 <= e0)
		e1 = e0 + 1;
	a->lo = pow(base, e0);
	a->hi = pow(base, e1);
	double span = e1 - e0;
	int every = span > 48 ? 8 : span > 24 ? 4 : span > 12 ? 2 : 1;
	if (base == 2 && every == 1 && span > 10)
		every = 2;
	a->n_ticks = 0;
	for (double e = e0; e <= e1 && a->n_ticks < MAX_TICKS; e += every)
		a->ticks[a->n_ticks++] = pow(base, e);
	if (base == 10 && span <= 1 && a->n_ticks < MAX_TICKS - 4) {
		/* one decade: 2 and 5 as well */
		double b = a->lo;
		a->n_ticks = 0;
		const double m[] = {1, 2, 5, 10};
		for (size_t i = 0; i < 4; i++)
			a->ticks[a->n_ticks++] = b * m[i];
	}
}

static double axis_pos(const struct axis *a, double v)
{
	double f;
	if (a->log)
		f = (log(v) - log(a->lo)) / (log(a->hi) - log(a->lo));
	else
		f = (v - a->lo) / (a->hi - a->lo);
	return a->p0 + f * (a->p1 - a->p0);
}

static void fmt_num(double v, char *buf, size_t len)
{
	if (v != 0 && (fabs(v) >= 1e5 || fabs(v) < 1e-3))
		snprintf(buf, len, "%.2g", v);
	else
		snprintf(buf, len, "%.4g", v);
}

static void tick_label(const struct axis *a, double v, char *buf, size_t len)
{
	if (a->bytes)
		strata_format_bytes(v, buf, len);
	else
		fmt_num(v, buf, len);
}

static const char *const PALETTE[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f"};
#define N_PALETTE (sizeof(PALETTE) / sizeof(PALETTE[0]))
static const char *const DASHES[] = {"", "6 3", "2 3", "8 3 2 3"};

static const char *color_of(size_t i)
{
	return PALETTE[i % N_PALETTE];
}

static const char *dash_of(size_t i)
{
	return DASHES[(i / N_PALETTE) % 4];
}

static void text(FILE *out, double x, double y, const char *anchor, const char *extra,
                 const char *s)
{
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s>", x, y, anchor,
	        extra ? " " : "", extra ? extra : "");
	strata_html_escape(out, s);
	fputs("</text>\n", out);
}

static void axis_title(char *buf, size_t len, const char *label, const char *unit)
{
	if (unit && *unit)
		snprintf(buf, len, "%s (%s)", label ? label : "", unit);
	else
		snprintf(buf, len, "%s", label ? label : "");
}

static void svg_open(const struct strata_chart *c, FILE *out, int w, int h)
{
	fprintf(out,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"strata-chart\" "
	        "data-kind=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
	        "aria-label=\"",
	        c->kind == STRATA_CHART_LINE      ? "line"
	        : c->kind == STRATA_CHART_BAR     ? "bar"
	        : c->kind == STRATA_CHART_BOX     ? "box"
	        : c->kind == STRATA_CHART_STACKED ? "stacked"
	                                          : "heatmap",
	        w, h, w, h);
	strata_html_escape(out, c->title);
	fputs("\" font-family=\"system-ui,sans-serif\" font-size=\"12\">\n<title>", out);
	strata_html_escape(out, c->title);
	fputs("</title>\n", out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
	text(out, w / 2.0, 22, "middle", "font-size=\"15\" font-weight=\"bold\"", c->title);
}

/* Legend at the right of the plot: a swatch (line or box) and the name. */
static void legend(const struct strata_chart *c, FILE *out, int as_line)
{
	double x = W - LEGEND_W + 14, y = TOP + 6;
	size_t max = (size_t)((H - TOP - BOTTOM) / 17);
	text(out, x, y, "start", "font-weight=\"bold\"", "legend");
	y += 17;
	for (size_t i = 0; i < c->n_series; i++, y += 17) {
		if (i + 1 == max && c->n_series > max) {
			char more[64];
			snprintf(more, sizeof(more), "... and %zu more", c->n_series - i);
			text(out, x, y, "start", NULL, more);
			break;
		}
		if (as_line)
			fprintf(
			    out,
			    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			    "stroke-width=\"2.5\" stroke-dasharray=\"%s\"/>\n",
			    x, y - 4, x + 22, y - 4, color_of(i), dash_of(i));
		else
			fprintf(out,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"11\" "
			        "fill=\"%s\"/>\n",
			        x + 4, y - 10, color_of(i));
		/* about 28 characters fit beside the plot; the whole name is the
		 * entry's tooltip */
		char name[40];
		snprintf(name, sizeof(name), "%s", c->series[i].name);
		if (strlen(c->series[i].name) > 28)
			memcpy(name + 25, "...", 4);
		fprintf(out, "<g><title>");
		strata_html_escape(out, c->series[i].name);
		fprintf(out, "</title>\n");
		text(out, x + 28, y, "start", "class=\"legend-entry\"", name);
		fputs("</g>\n", out);
	}
}

static void y_axis(const struct strata_chart *c, const struct axis *ya, FILE *out)
{
	char buf[64], title[256];
	for (size_t i = 0; i < ya->n_ticks; i++) {
		double py = axis_pos(ya, ya->ticks[i]);
		fprintf(out,
		        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e6e6e6\"/>\n",
		        LEFT, py, W - LEGEND_W, py);
		tick_label(ya, ya->ticks[i], buf, sizeof(buf));
		text(out, LEFT - 6, py + 4, "end", NULL, buf);
	}
	axis_title(title, sizeof(title), c->y_label, c->y_unit);
	fprintf(out, "<text transform=\"translate(18,%.1f) rotate(-90)\" text-anchor=\"middle\">",
	        (TOP + (double)(H - BOTTOM)) / 2);
	strata_html_escape(out, title);
	fputs("</text>\n", out);
}

static void frame(FILE *out)
{
	fprintf(
	    out,
	    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
	    LEFT, TOP, W - LEGEND_W - LEFT, H - BOTTOM - TOP);
}

static void x_title(const struct strata_chart *c, FILE *out)
{
	char title[256];
	axis_title(title, sizeof(title), c->x_label, c->x_unit);
	text(out, (LEFT + (double)(W - LEGEND_W)) / 2, H - 14, "middle", NULL, title);
}

/* y range over every point (or box whisker); log when asked and positive. */
static void y_range(const struct strata_chart *c, struct axis *ya, int from_zero)
{
	double lo = DBL_MAX, hi = -DBL_MAX;
	for (size_t i = 0; i < c->n_series; i++)
		for (size_t k = 0; k < c->series[i].n; k++) {
			const struct strata_series *s = &c->series[i];
			double a = s->y[k], b = s->y[k];
			if (c->kind == STRATA_CHART_BOX) {
				a = s->box[5 * k];
				b = s->box[5 * k + 4];
			}
			if (isfinite(a) && a < lo)
				lo = a;
			if (isfinite(b) && b > hi)
				hi = b;
		}
	if (c->kind == STRATA_CHART_STACKED) {
		hi = 0;
		for (size_t cat = 0; cat < c->n_categories; cat++) {
			double sum = 0;
			for (size_t i = 0; i < c->n_series; i++)
				for (size_t k = 0; k < c->series[i].n; k++)
					if ((size_t)c->series[i].x[k] == cat &&
					    isfinite(c->series[i].y[k]))
						sum += c->series[i].y[k];
			hi = fmax(hi, sum);
		}
		lo = 0;
	}
	if (lo > hi) {
		lo = 0;
		hi = 1;
	}
	memset(ya, 0, sizeof(*ya));
	if (c->log_y && lo > 0)
		axis_log(ya, lo, hi, 10);
	else
		axis_linear(ya, from_zero && lo > 0 ? 0 : lo, hi);
	ya->p0 = H - BOTTOM;
	ya->p1 = TOP;
}

static void draw_line_chart(const struct strata_chart *c, FILE *out)
{
	double lo = DBL_MAX, hi = -DBL_MAX;
	for (size_t i = 0; i < c->n_series; i++)
		for (size_t k = 0; k < c->series[i].n; k++) {
			double x = c->series[i].x[k];
			if (!isfinite(x) || (c->log_x && x <= 0))
				continue;
			lo = fmin(lo, x);
			hi = fmax(hi, x);
		}
	if (lo > hi) {
		lo = 0;
		hi = 1;
	}
	struct axis xa = {0}, ya;
	xa.bytes = c->x_bytes;
	if (c->log_x && lo > 0)
		axis_log(&xa, lo, hi, c->x_bytes || c->log_x == 2 ? 2 : 10);
	else
		axis_linear(&xa, lo, hi);
	xa.p0 = LEFT;
	xa.p1 = W - LEGEND_W;
	y_range(c, &ya, 1);
	y_axis(c, &ya, out);
	char buf[64];
	for (size_t i = 0; i < xa.n_ticks; i++) {
		double px = axis_pos(&xa, xa.ticks[i]);
		fprintf(out,
		        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e6e6e6\"/>\n",
		        px, TOP, px, H - BOTTOM);
		tick_label(&xa, xa.ticks[i], buf, sizeof(buf));
		text(out, px, H - BOTTOM + 16, "middle", NULL, buf);
	}
	frame(out);
	x_title(c, out);
	for (size_t i = 0; i < c->n_series; i++) {
		const struct strata_series *s = &c->series[i];
		/* points in x order */
		size_t *ord = xrealloc(NULL, (s->n ? s->n : 1) * sizeof(*ord));
		for (size_t k = 0; k < s->n; k++) {
			size_t j = k;
			while (j > 0 && s->x[ord[j - 1]] > s->x[k]) {
				ord[j] = ord[j - 1];
				j--;
			}
			ord[j] = k;
		}
		fprintf(out,
		        "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
		        "stroke-dasharray=\"%s\" points=\"",
		        color_of(i), dash_of(i));
		for (size_t k = 0; k < s->n; k++) {
			double x = s->x[ord[k]], y = s->y[ord[k]];
			if (!isfinite(y) || (c->log_x && x <= 0) || (ya.log && y <= 0))
				continue;
			fprintf(out, "%.1f,%.1f ", axis_pos(&xa, x), axis_pos(&ya, y));
		}
		fputs("\"/>\n", out);
		for (size_t k = 0; k < s->n; k++) {
			double x = s->x[ord[k]], y = s->y[ord[k]];
			if (!isfinite(y) || (c->log_x && x <= 0) || (ya.log && y <= 0))
				continue;
			fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>",
			        axis_pos(&xa, x), axis_pos(&ya, y), color_of(i));
			char xs[64], ys[64];
			tick_label(&xa, x, xs, sizeof(xs));
			snprintf(ys, sizeof(ys), "%.4g", y);
			strata_html_escape(out, s->name);
			fprintf(out, ": %s, %s</title></circle>\n", xs, ys);
		}
		free(ord);
	}
	legend(c, out, 1);
}

static void category_labels(const struct strata_chart *c, FILE *out, double slot)
{
	int rotate = c->n_categories > 8;
	for (size_t k = 0; k < c->n_categories; k++) {
		double px = LEFT + slot * ((double)k + 0.5);
		char name[40];
		snprintf(name, sizeof(name), "%s", c->categories[k]);
		if (rotate) {
			fprintf(out,
			        "<text transform=\"translate(%.1f,%d) rotate(-35)\" "
			        "text-anchor=\"end\">",
			        px + 3, H - BOTTOM + 12);
			strata_html_escape(out, name);
			fputs("</text>\n", out);
		} else {
			text(out, px, H - BOTTOM + 16, "middle", NULL, name);
		}
	}
}

/* BAR, BOX and STACKED share the category axis. */
static void draw_category_chart(const struct strata_chart *c, FILE *out)
{
	struct axis ya;
	y_range(c, &ya, c->kind != STRATA_CHART_BOX);
	y_axis(c, &ya, out);
	frame(out);
	if (c->n_categories <= 8)
		x_title(c, out);
	double slot =
	    (double)(W - LEGEND_W - LEFT) / (double)(c->n_categories ? c->n_categories : 1);
	category_labels(c, out, slot);
	size_t groups = c->kind == STRATA_CHART_STACKED ? 1 : (c->n_series ? c->n_series : 1);
	double bw = slot * 0.8 / (double)groups;
	double base_y = axis_pos(&ya, ya.log ? ya.lo : fmax(ya.lo, 0));
	double *stack = xrealloc(NULL, (c->n_categories ? c->n_categories : 1) * sizeof(double));
	for (size_t k = 0; k < c->n_categories; k++)
		stack[k] = 0;
	for (size_t i = 0; i < c->n_series; i++) {
		const struct strata_series *s = &c->series[i];
		for (size_t k = 0; k < s->n; k++) {
			size_t cat = (size_t)s->x[k];
			if (cat >= c->n_categories || !isfinite(s->y[k]))
				continue;
			double x0 = LEFT + slot * (double)cat + slot * 0.1 +
			            (c->kind == STRATA_CHART_STACKED ? 0 : bw * (double)i);
			fprintf(out, "<g class=\"series\"><title>");
			strata_html_escape(out, s->name);
			fputs(" / ", out);
			strata_html_escape(out, c->categories[cat]);
			if (c->kind == STRATA_CHART_BOX) {
				const double *b = s->box + 5 * k;
				fprintf(
				    out,
				    ": min %.4g, q1 %.4g, median %.4g, q3 %.4g, max %.4g</title>\n",
				    b[0], b[1], b[2], b[3], b[4]);
				double xm = x0 + bw / 2, q1 = axis_pos(&ya, b[1]),
				       q3 = axis_pos(&ya, b[3]);
				fprintf(out,
				        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				        "stroke=\"#333\"/>\n",
				        xm, axis_pos(&ya, b[0]), xm, axis_pos(&ya, b[4]));
				fprintf(out,
				        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				        "height=\"%.1f\" fill=\"%s\" "
				        "stroke=\"#333\"/>\n",
				        x0 + bw * 0.1, q3, bw * 0.8, fmax(q1 - q3, 0.5),
				        color_of(i));
				double pm = axis_pos(&ya, b[2]);
				fprintf(out,
				        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
				        "stroke=\"#000\" "
				        "stroke-width=\"2\"/>\n</g>\n",
				        x0 + bw * 0.1, pm, x0 + bw * 0.9, pm);
				continue;
			}
			fprintf(out, ": %.4g</title>", s->y[k]);
			double v0 = c->kind == STRATA_CHART_STACKED ? stack[cat] : 0;
			double v1 = v0 + s->y[k];
			double py0 = c->kind == STRATA_CHART_STACKED ? axis_pos(&ya, v0) : base_y;
			double py1 = axis_pos(&ya, ya.log && v1 <= 0 ? ya.lo : v1);
			fprintf(out,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			        "fill=\"%s\"/>"
			        "</g>\n",
			        x0, fmin(py0, py1),
			        (c->kind == STRATA_CHART_STACKED ? slot * 0.8 : bw) * 0.95,
			        fabs(py0 - py1), color_of(i));
			if (c->kind == STRATA_CHART_STACKED)
				stack[cat] = v1;
		}
	}
	free(stack);
	legend(c, out, 0);
}

/* Viridis (matplotlib's default colour map) through five of its stops. */
static void viridis(double f, int rgb[3])
{
	static const int stops[5][3] = {
	    {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
	f = f < 0 ? 0 : f > 1 ? 1 : f;
	double p = f * 4;
	int i = (int)p < 4 ? (int)p : 3;
	double t = p - i;
	for (int k = 0; k < 3; k++)
		rgb[k] = (int)lround(stops[i][k] + t * (stops[i + 1][k] - stops[i][k]));
}

static void draw_heatmap(const struct strata_chart *c, FILE *out)
{
	size_t nr = c->n_rows, nc = c->n_categories;
	double cell = 480.0 / (double)(nr > nc ? (nr ? nr : 1) : (nc ? nc : 1));
	if (cell > 64)
		cell = 64; /* a 2 x 2 NUMA matrix still reads well */
	int left = 130, top = TOP + 10;
	int w = left + (int)(cell * (double)nc) + 150, h = top + (int)(cell * (double)nr) + 110;
	if (w < 420)
		w = 420;
	svg_open(c, out, w, h);
	double lo = DBL_MAX, hi = -DBL_MAX;
	for (size_t i = 0; i < nr * nc; i++)
		if (isfinite(c->cells[i])) {
			lo = fmin(lo, c->cells[i]);
			hi = fmax(hi, c->cells[i]);
		}
	if (lo > hi)
		lo = hi = 0;
	int labels = cell >= 26;
	for (size_t r = 0; r < nr; r++) {
		char name[32];
		snprintf(name, sizeof(name), "%s", c->rows[r]);
		text(out, left - 6, top + cell * ((double)r + 0.5) + 4, "end", NULL, name);
		for (size_t k = 0; k < nc; k++) {
			double v = c->cells[r * nc + k];
			double x = left + cell * (double)k, y = top + cell * (double)r;
			if (!isfinite(v)) {
				fprintf(
				    out,
				    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
				    "fill=\"#eee\"><title>no value</title></rect>\n",
				    x, y, cell, cell);
				continue;
			}
			int rgb[3];
			viridis(hi > lo ? (v - lo) / (hi - lo) : 0.5, rgb);
			fprintf(out,
			        "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			        "height=\"%.1f\" "
			        "fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"><title>",
			        x, y, cell, cell, rgb[0], rgb[1], rgb[2]);
			strata_html_escape(out, c->rows[r]);
			fputs(" / ", out);
			strata_html_escape(out, c->categories[k]);
			fprintf(out, ": %.4g</title></rect>\n", v);
			if (labels) {
				char buf[32];
				snprintf(buf, sizeof(buf), "%.3g", v);
				fprintf(out,
				        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
				        "font-size=\"%d\" "
				        "fill=\"%s\">%s</text>\n",
				        x + cell / 2, y + cell / 2 + 4, cell >= 40 ? 11 : 9,
				        rgb[0] + rgb[1] + rgb[2] > 380 ? "#000" : "#fff", buf);
			}
		}
	}
	for (size_t k = 0; k < nc; k++) {
		char name[32];
		snprintf(name, sizeof(name), "%s", c->categories[k]);
		double px = left + cell * ((double)k + 0.5);
		double py = top + cell * (double)nr + 12;
		fprintf(out,
		        "<text transform=\"translate(%.1f,%.1f) rotate(-45)\" text-anchor=\"end\">",
		        px + 4, py);
		strata_html_escape(out, name);
		fputs("</text>\n", out);
	}
	char title[256];
	axis_title(title, sizeof(title), c->x_label, NULL);
	text(out, left + cell * (double)nc / 2, h - 12, "middle", NULL, title);
	axis_title(title, sizeof(title), c->y_label, NULL);
	fprintf(out, "<text transform=\"translate(16,%.1f) rotate(-90)\" text-anchor=\"middle\">",
	        top + cell * (double)nr / 2);
	strata_html_escape(out, title);
	fputs("</text>\n", out);
	/* colour scale */
	double sx = left + cell * (double)nc + 30, sh = cell * (double)nr;
	if (sh < 120)
		sh = 120;
	for (int i = 0; i < 20; i++) {
		int rgb[3];
		viridis(1.0 - i / 19.0, rgb);
		fprintf(out,
		        "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"%.1f\" "
		        "fill=\"rgb(%d,%d,%d)\"/>\n",
		        sx, top + sh * i / 20.0, sh / 20.0 + 0.5, rgb[0], rgb[1], rgb[2]);
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "%.4g", hi);
	text(out, sx + 22, top + 10, "start", NULL, buf);
	snprintf(buf, sizeof(buf), "%.4g", lo);
	text(out, sx + 22, top + sh, "start", NULL, buf);
	text(out, sx, top - 8, "start", "class=\"legend-entry\"", c->y_unit ? c->y_unit : "value");
	fputs("</svg>\n", out);
}

void strata_chart_write_svg(const struct strata_chart *c, FILE *out)
{
	if (c->kind == STRATA_CHART_HEATMAP) {
		draw_heatmap(c, out);
		return;
	}
	svg_open(c, out, W, H);
	if (c->kind == STRATA_CHART_LINE)
		draw_line_chart(c, out);
	else
		draw_category_chart(c, out);
	fputs("</svg>\n", out);
}
