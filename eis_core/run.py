"""``python -m eis_core.run --config … --labels … [--buildfeatures|--generatematrices|--production]``.

The original police EIS's entry point, kept so its users find their way:

* ``--buildfeatures``: build the feature and label marts for the configured as-of dates;
* ``--generatematrices``: train/test matrices per temporal split (``eis matrices build``);
* no flag: the whole modeling run - splits, matrices, the model grid, evaluation and model selection,
  sequentially in this process (the ``eis_modeling`` DAG does the same with one task per model);
* ``--production [--modelgroup ID] --date D [--mode stored|retrain]``: daily scoring of the active officers
  on D (``eis score`` is the everyday form; the ``eis_production`` DAG runs it every day).

``eis features build`` is the everyday form of ``--buildfeatures``.
"""

from __future__ import annotations

import argparse
import sys
import time

from eis_core.config import DEFAULT_LABELS_CONFIG, DEFAULT_OFFICER_CONFIG, ConfigError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m eis_core.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(DEFAULT_OFFICER_CONFIG), help="officer config YAML")
    p.add_argument("--labels", default=str(DEFAULT_LABELS_CONFIG), help="labels config YAML")
    stage = p.add_mutually_exclusive_group()
    stage.add_argument("--buildfeatures", action="store_true", help="build features and labels")
    stage.add_argument("--generatematrices", action="store_true", help="build train/test matrices")
    stage.add_argument("--production", action="store_true", help="score officers on --date with --modelgroup")
    p.add_argument("--modelgroup", help="model group id (with --production)")
    p.add_argument("--date", help="as-of date YYYY-MM-DD (with --production)")
    p.add_argument("--mode", choices=("stored", "retrain"),
                   help="with --production: newest stored model, or retrain on the window ending at --date "
                        "(default: production.mode of the config)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from eis_core.config import load_labels_config, load_officer_config

    try:
        load_officer_config(args.config)
        load_labels_config(args.labels)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.buildfeatures:
        from eis_core.features import build_features
        from eis_core.transform import TransformError, format_summary

        try:
            summary = build_features(args.config, args.labels)
        except TransformError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(format_summary(summary))
        return 0
    if args.generatematrices or not args.production:
        return _modeling(args)
    return _production(args)


def _production(args: argparse.Namespace) -> int:
    """``--production``: score the cohort on ``--date`` with ``--modelgroup`` (default: the selected group)."""
    from eis_core.modeling.matrices import MatrixError
    from eis_core.production.scoring import ProductionError, bias_summary_text, risk_list_text, score_day
    from eis_core.transform import TransformError

    if not args.date:
        print("--production needs --date YYYY-MM-DD", file=sys.stderr)
        return 2
    try:
        result = score_day(args.date, args.modelgroup, args.mode, args.config, args.labels,
                           scored_by="python -m eis_core.run --production")
    except (ProductionError, ConfigError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except (MatrixError, TransformError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(risk_list_text(result.as_of_date))
    print()
    print(bias_summary_text(result.as_of_date))
    return 0


def _modeling(args: argparse.Namespace) -> int:
    """``--generatematrices`` or (no flag) the whole modeling run."""
    from eis_core.modeling.matrices import MatrixError
    from eis_core.modeling.splits import SplitError
    from eis_core.transform import TransformError

    try:
        if args.generatematrices:
            from eis_core.modeling.cli import echo_built_matrices
            from eis_core.modeling.pipeline import build_all_matrices

            t0 = time.perf_counter()
            built = build_all_matrices(args.config, args.labels)
            print()
            echo_built_matrices(built, time.perf_counter() - t0)
            return 0
        from eis_core.modeling.pipeline import run_all

        summary = run_all(args.config, args.labels)
        print(f"experiment {summary['experiment_id']} run {summary['run_id']}: chosen model group "
              f"{summary['model_group_id']}; report {summary['report_path']}")
        return 0
    except (ConfigError, SplitError) as exc:
        print(exc, file=sys.stderr)
        return 2
    except (MatrixError, TransformError) as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
