"""scikit-learn's own estimator checks (``parametrize_with_checks``) for every estimator of the grid that
this project writes.  Checks an estimator fails by design are listed with the reason, through the
checks' ``expected_failed_checks`` mechanism (they run, and are reported as expected failures)."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from eis_core.modeling.baselines import (CountGBReference, LegacyEISBaseline, PriorBaseline, RandomBaseline,
                                         SimpleLogisticBaseline)
from eis_core.modeling.estimators import CalibratedLinearSVC, ScaledLogisticRegression

#: reasons shared by several estimators
NEEDS_FRAME = ("reads the feature mart's named columns (leg_<rule>_flag, flg_flags_<w>, plain counts, age, tenure) "
               "from a DataFrame: an array without those names cannot be scored")
LABELS_0_1 = "the platform's labels are 0/1 (adverse or not): classes_ is always [0, 1]"
RANDOM_ROWS = "random scores follow the row position by design: reordering or subsetting rows changes them"

#: the checks that feed arrays without column names (a DataFrame-only estimator fails them all)
ARRAY_CHECKS = (
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_estimators_empty_data_messages", "check_pipeline_consistency", "check_estimators_nan_inf",
    "check_estimator_sparse_tag", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
    "check_estimators_pickle", "check_f_contiguous_array_estimator", "check_classifier_data_not_an_array",
    "check_classifiers_one_label", "check_classifiers_classes", "check_classifiers_train", "check_supervised_y_2d",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_fit2d_1sample",
    "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in", "check_fit1d", "check_fit2d_predict1d",
)  # the target checks (binary only, y None / NaN / continuous, complex data) pass: y is validated first

EXPECTED_FAILURES = {
    "RandomBaseline": {"check_classifiers_one_label": LABELS_0_1, "check_classifiers_classes": LABELS_0_1,
                       "check_classifiers_train": "its random scores do not learn the training labels (by design)",
                       "check_methods_sample_order_invariance": RANDOM_ROWS,
                       "check_methods_subset_invariance": RANDOM_ROWS},
    "LegacyEISBaseline": dict.fromkeys(ARRAY_CHECKS, NEEDS_FRAME),
    "SimpleLogisticBaseline": dict.fromkeys(ARRAY_CHECKS, NEEDS_FRAME),
    "CountGBReference": dict.fromkeys(ARRAY_CHECKS, NEEDS_FRAME),
}


def expected_failed_checks(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks([ScaledLogisticRegression(penalty="l1", C=0.5), CalibratedLinearSVC(), RandomBaseline(random_state=0), PriorBaseline(),
                          LegacyEISBaseline(), SimpleLogisticBaseline(), CountGBReference(random_state=0)],
                         expected_failed_checks=expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", ["ScaledLogisticRegression", "CalibratedLinearSVC", "PriorBaseline"])
def test_general_purpose_estimators_have_no_expected_failure(name):
    assert name not in EXPECTED_FAILURES  # these pass every check scikit-learn runs on them
