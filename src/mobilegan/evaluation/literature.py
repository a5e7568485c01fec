"""Published numbers we compare against, quoted, never reproduced.

Every value here was read from a source named beside it; a number we could not check
against a source is left out rather than typed from memory. The paper's comparison table
(Sarker et al. 2019, Table 1: FCN, U-Net, SegNet, FrCN, SLSDeep, SegAN, GAN-FCN with their
parameter counts) is listed in :data:`NOT_TRANSCRIBED` until someone copies its values from
the PDF into :data:`QUOTED` (with the table and page as ``source``). Where a method's own
paper states its ISBI 2017 score in a reachable abstract, that number is quoted instead,
named as coming from there (FrCN).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mobilegan import paper

QUOTED_NOTE = "quoted from Sarker et al. 2019, not reproduced"


@dataclass(frozen=True)
class QuotedResult:
    """One published row: metrics in percent (ISBI 2017 test unless ``dataset`` says)."""

    method: str
    reference: str
    source: str  # where exactly the numbers were read
    metrics: dict[str, float] = field(default_factory=dict)  # ACC, DIC, JAC, SEN, SPE, JAC_th
    params_m: float | None = None  # millions, as the source lists them
    dataset: str = "ISBI 2017 test"
    note: str = QUOTED_NOTE


#: Rows whose every number has a source we checked.
QUOTED: tuple[QuotedResult, ...] = (
    QuotedResult(
        method="MobileGAN (paper)",
        reference="Sarker et al. 2019, arXiv:1907.00856v1",
        source="Table 1 as recorded in mobilegan.paper (PAPER_ISIC2017_TEST); 2.35 M "
               "parameters also stated in the v1 abstract",
        metrics=dict(paper.PAPER_ISIC2017_TEST),
        params_m=paper.PAPER_PARAMETERS_M,
    ),
    QuotedResult(
        method="MobileGAN (paper)",
        reference="Sarker et al. 2019, arXiv:1907.00856v1",
        source="Table 2 as recorded in mobilegan.paper (PAPER_ISIC2018_VAL_JAC_TH)",
        metrics={"JAC_th": paper.PAPER_ISIC2018_VAL_JAC_TH},
        params_m=paper.PAPER_PARAMETERS_M,
        dataset="ISIC 2018 validation",
    ),
    QuotedResult(
        method="SLSNet (later version of the same paper)",
        reference="Sarker et al., arXiv:1907.00856v2 (2020) / SLSNet",
        source="v2 abstract: accuracy 97.61%, Dice 90.63%, Jaccard 81.98%, 2.35 M parameters",
        metrics={"ACC": 97.61, "DIC": 90.63, "JAC": 81.98},
        params_m=2.35,
        note="quoted from Sarker et al. (2020 revision), not reproduced",
    ),
    QuotedResult(
        method="FrCN (from its own paper)",
        reference="Al-masni et al. 2018, Comput. Methods Programs Biomed. 162:221-231, "
                  "doi:10.1016/j.cmpb.2018.05.027",
        source="abstract, Results: 'an average Jaccard index of 77.11%' on the ISBI 2017 "
               "challenge test set (its other columns are not in the abstract)",
        metrics={"JAC": 77.11},
        note="quoted from Al-masni et al. 2018, not reproduced; the MobileGAN table's FrCN "
             "row was not transcribed and may differ",
    ),
)

#: Methods of the paper's comparison table whose numbers are not transcribed here (no
#: verifiable copy of the table was at hand): named so that the report says so.
NOT_TRANSCRIBED: tuple[str, ...] = ("FCN", "U-Net", "SegNet", "FrCN", "SLSDeep", "SegAN",
                                    "GAN-FCN")


def quoted_rows(dataset: str | None = None) -> list[QuotedResult]:
    """The quoted rows, optionally only those of one dataset."""
    return [row for row in QUOTED if dataset is None or row.dataset == dataset]
