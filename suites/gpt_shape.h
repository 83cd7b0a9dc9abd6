/* gpt_shape.h: the model-shape parameters the train and infer suites share
 * (a preset of kernels/nn/gpt.h and overrides of its layers, width, heads and
 * vocabulary), so both read a plan's model the same way.  Not the rest of
 * either suite's parameters. */
#ifndef STRATA_SUITES_GPT_SHAPE_H
#define STRATA_SUITES_GPT_SHAPE_H

#include <stddef.h>

#include "harness/params.h"
#include "kernels/nn/gpt.h"

/* The parameter definitions, to put in a suite's table. */
#define STRATA_GPT_SHAPE_PARAMS                                                                    \
	{.name = "model",                                                                          \
	 .type = STRATA_PT_ENUM,                                                                   \
	 .def = "tiny",                                                                            \
	 .choices = "tiny|gpt2-small",                                                             \
	 .help = "model preset (kernels/nn/gpt.h); layers/d_model/heads/vocab override it"},       \
	    {.name = "layers",                                                                     \
	     .type = STRATA_PT_INT,                                                                \
	     .def = "0",                                                                           \
	     .min = 0,                                                                             \
	     .max = 256,                                                                           \
	     .help = "transformer blocks; 0 = the preset's"},                                      \
	    {.name = "d_model",                                                                    \
	     .type = STRATA_PT_INT,                                                                \
	     .def = "0",                                                                           \
	     .min = 0,                                                                             \
	     .max = 65536,                                                                         \
	     .help = "model width C; 0 = the preset's"},                                           \
	    {.name = "heads",                                                                      \
	     .type = STRATA_PT_INT,                                                                \
	     .def = "0",                                                                           \
	     .min = 0,                                                                             \
	     .max = 1024,                                                                          \
	     .help = "attention heads (divide d_model); 0 = the preset's"},                        \
	{                                                                                          \
		.name = "vocab", .type = STRATA_PT_INT, .def = "0", .min = 0, .max = 1 << 20,      \
		.help = "model vocabulary; 0 = the preset's"                                       \
	}

/* The preset named by `model` with the overrides applied (not yet checked:
 * strata_gpt_config_check).  0, or -1 with "model: unknown preset ..." in
 * err. */
int strata_gpt_shape_from_params(const struct strata_params *p, struct strata_gpt_config *cfg,
                                 char *err, size_t err_len);

#endif
