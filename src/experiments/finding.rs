//! What an analysis found: the verdict, the sentence that decides it, the
//! table, the charts it asks for and the caveats.

use crate::charts::{BarChart, LineChart, SpectrumChart};

/// Whether the data support the claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supported,
    NotSupported,
    /// True in some conditions and not others; the finding says which.
    Depends,
    /// Not enough usable measurements to decide.
    NoData,
    /// Not a claim: the baseline the claims are read against.
    Baseline,
}

impl Verdict {
    /// Two halves of one claim together: the same verdict if they agree,
    /// "depends" if they do not, "no data" if either has none.
    pub fn both(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::NoData, _) | (_, Verdict::NoData) => Verdict::NoData,
            (a, b) if a == b => a,
            _ => Verdict::Depends,
        }
    }

    /// Several conditions of one claim (say, one per model): all supported →
    /// supported, all not → not supported, a mix → depends.
    pub fn all(verdicts: &[Verdict]) -> Verdict {
        verdicts
            .iter()
            .copied()
            .reduce(Verdict::both)
            .unwrap_or(Verdict::NoData)
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Supported => "supported",
            Verdict::NotSupported => "not supported",
            Verdict::Depends => "depends",
            Verdict::NoData => "no data",
            Verdict::Baseline => "baseline",
        }
    }
}

/// A chart an analysis asks for; the report draws it.
pub enum ChartSpec {
    Line(LineChart),
    Bars(BarChart),
    Spectrum(SpectrumChart),
}

/// A named chart (the file stem is `<experiment>-<name>`).
pub struct NamedChart {
    pub name: String,
    pub chart: ChartSpec,
}

/// A chart axis: its label (with the unit) and its scale.
pub type Axis<'a> = (&'a str, crate::charts::Scale);

impl NamedChart {
    /// A line chart, footnoted with the machine.
    pub fn line(
        name: &str,
        title: impl Into<String>,
        (x_label, x_scale): Axis<'_>,
        (y_label, y_scale): Axis<'_>,
        series: Vec<crate::charts::Series>,
        ctx: &Context,
    ) -> Self {
        NamedChart {
            name: name.to_string(),
            chart: ChartSpec::Line(LineChart {
                title: title.into(),
                x_label: x_label.to_string(),
                y_label: y_label.to_string(),
                x_scale,
                y_scale,
                caption: if series
                    .iter()
                    .flat_map(|s| &s.points)
                    .any(|p| p.spread.is_some())
                {
                    ctx.error_bars.clone()
                } else {
                    String::new()
                },
                series,
                footnote: ctx.footnote.clone(),
            }),
        }
    }

    /// A grouped bar chart, one bar per category in each group, footnoted with the machine.
    pub fn bars(
        name: &str,
        title: impl Into<String>,
        (y_label, y_scale): Axis<'_>,
        categories: &[String],
        groups: Vec<crate::charts::BarGroup>,
        ctx: &Context,
    ) -> Self {
        NamedChart {
            name: name.to_string(),
            chart: ChartSpec::Bars(BarChart {
                title: title.into(),
                y_label: y_label.to_string(),
                categories: categories.to_vec(),
                caption: if groups
                    .iter()
                    .flat_map(|g| g.values.iter().flatten())
                    .any(|b| b.spread.is_some())
                {
                    ctx.error_bars.clone()
                } else {
                    String::new()
                },
                groups,
                footnote: ctx.footnote.clone(),
                y_scale,
            }),
        }
    }
}

impl NamedChart {
    /// The same chart titled with its finding ("fork costs 3× thread-pool
    /// per connection"); the topic title it had moves to the caption line.
    pub fn titled(mut self, finding: impl Into<String>) -> Self {
        let finding = finding.into();
        let (title, caption) = match &mut self.chart {
            ChartSpec::Line(c) => (&mut c.title, &mut c.caption),
            ChartSpec::Bars(c) => (&mut c.title, &mut c.caption),
            ChartSpec::Spectrum(c) => (&mut c.title, &mut c.caption),
        };
        let topic = std::mem::replace(title, finding);
        *caption = if caption.is_empty() {
            topic
        } else {
            format!("{topic} · {caption}")
        };
        self
    }

    /// Titled with its finding when the data give one ([`NamedChart::titled`]);
    /// the topic title stays when they do not.
    pub fn titled_by(self, finding: Option<String>) -> Self {
        match finding {
            Some(f) => self.titled(f),
            None => self,
        }
    }
}

/// What an analysis found.
pub struct Finding {
    pub verdict: Verdict,
    /// The sentence with the number that decides the verdict.
    pub because: String,
    /// A markdown table of the measured figures.
    pub table: String,
    pub charts: Vec<NamedChart>,
    /// Caveats: errors seen, a saturated load generator, a crashed server.
    pub notes: Vec<String>,
}

/// What an analysis knows besides the data.
pub struct Context {
    /// The machine line for chart footnotes.
    pub footnote: String,
    /// What the error bars are in this run (min–max or a CI, over how many
    /// repeats): the caption of every chart that draws them.
    pub error_bars: String,
    /// The p99 latency objective (`run --slo`) the overload knee is judged against.
    pub slo: std::time::Duration,
}
