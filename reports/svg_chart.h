/* svg_chart.h: charts as inline SVG (no script, no external font or file),
 * each with a title, labelled axes with units, tick labels and a legend.
 *
 * Kinds:
 *   LINE     y vs numeric x, one polyline per series (log x for sizes);
 *   BAR      grouped bars: a category axis, one bar per series in each;
 *   BOX      distributions: per category and series a box (quartiles), a
 *            median line and whiskers to min and max;
 *   STACKED  one bar per category split into the series' parts (breakdowns);
 *   HEATMAP  a matrix of cells coloured by value, with a colour scale.
 * What to chart is decided elsewhere (report_charts.c); this file only draws.
 * Ticks: "nice numbers" of Heckbert, Graphics Gems (1990), "Nice numbers
 * for graph labels"; powers of 2 on a byte axis, of 10 on other log axes.
 */
#ifndef STRATA_SVG_CHART_H
#define STRATA_SVG_CHART_H

#include <stddef.h>
#include <stdio.h>

enum strata_chart_kind {
	STRATA_CHART_LINE,
	STRATA_CHART_BAR,
	STRATA_CHART_BOX,
	STRATA_CHART_STACKED,
	STRATA_CHART_HEATMAP,
};

struct strata_series {
	char *name;
	double *x, *y; /* (n) LINE: x, y; BAR/STACKED: x = category index */
	double *box;   /* (n * 5) BOX: min, q1, median, q3, max; x = category index */
	size_t n, cap;
};

struct strata_chart {
	enum strata_chart_kind kind;
	char *title;
	char *x_label, *x_unit, *y_label, *y_unit;
	int log_x, log_y;  /* 0 linear; log_x 2: powers of 2 (also for any x_bytes axis) */
	int x_bytes;       /* x is a byte count: ticks 1K, 1M ... (powers of 1024) */
	char **categories; /* BAR, BOX, STACKED: x axis; HEATMAP: columns */
	size_t n_categories;
	struct strata_series *series;
	size_t n_series;
	char **rows; /* HEATMAP rows */
	size_t n_rows;
	double *cells; /* HEATMAP (n_rows * n_categories), NAN for none */
	char *note;    /* one line under the chart, may be NULL */
};

struct strata_chart *strata_chart_new(enum strata_chart_kind kind, const char *title,
                                      const char *x_label, const char *x_unit, const char *y_label,
                                      const char *y_unit);
void strata_chart_free(struct strata_chart *c);
void strata_chart_set_note(struct strata_chart *c, const char *note);

/* Index of the series called name (added when new). */
size_t strata_chart_series(struct strata_chart *c, const char *name);
/* Index of the category called name (added when new). */
size_t strata_chart_category(struct strata_chart *c, const char *name);
void strata_chart_point(struct strata_chart *c, size_t series, double x, double y);
/* BOX: five numbers (min, q1, median, q3, max) of series at category. */
void strata_chart_box(struct strata_chart *c, size_t series, size_t category, const double five[5]);
/* HEATMAP: n_rows x n_cols values (row-major, copied), labels copied. */
void strata_chart_heat(struct strata_chart *c, size_t n_rows, size_t n_cols,
                       const char *const *row_labels, const char *const *col_labels,
                       const double *values);

/* Number of points (or boxes, or cells) the chart would draw. */
size_t strata_chart_size(const struct strata_chart *c);

void strata_chart_write_svg(const struct strata_chart *c, FILE *out);

/* Byte count as text with binary prefixes: 8, 1K, 64K, 1M (nccl-tests style). */
void strata_format_bytes(double bytes, char *buf, size_t len);

#endif
