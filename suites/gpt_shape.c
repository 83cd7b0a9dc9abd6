/* gpt_shape.c: a plan's model shape for the train and infer suites (see
 * gpt_shape.h). */
#include "suites/gpt_shape.h"

#include <stdint.h>
#include <stdio.h>

int strata_gpt_shape_from_params(const struct strata_params *p, struct strata_gpt_config *cfg,
                                 char *err, size_t err_len)
{
	const char *preset = strata_params_str(p, "model");
	if (strata_gpt_preset(preset, cfg) != 0) {
		snprintf(err, err_len, "model: unknown preset '%s'", preset);
		return -1;
	}
	int64_t v;
	if ((v = strata_params_int(p, "layers")) > 0)
		cfg->layers = (int)v;
	if ((v = strata_params_int(p, "d_model")) > 0)
		cfg->d_model = (int)v;
	if ((v = strata_params_int(p, "heads")) > 0)
		cfg->heads = (int)v;
	if ((v = strata_params_int(p, "vocab")) > 0)
		cfg->vocab = (int)v;
	return 0;
}
