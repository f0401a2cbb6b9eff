/// The targets `snn bench` checks its figures against (docs/PERFORMANCE.md), as data: each is
/// a measured figure and the bound it must not exceed.
module Snn.Cli.Bench.Targets

open System.Text.Json.Nodes
open Snn.Cli.Bench.Figures

/// Simulation time over T ANN passes, for T >= SimRatioFromT.
[<Literal>]
let SimRatioMax = 1.0

/// The smallest T held to SimRatioMax (at T = 1 the simulator only has to beat the naive loop).
[<Literal>]
let SimRatioFromT = 2

/// Clip and noisy-QC training epochs over a ReLU epoch.
[<Literal>]
let TrainEpochRatioMax = 1.15

/// Phase II wall time over Phase I wall time.
[<Literal>]
let Phase2ShareMax = 0.25

/// Peak working set of our simulator alone at T = 32, in MB.
[<Literal>]
let PeakAtT32MaxMb = 3072.0

/// One target: what is measured, its value, and the bound it must not exceed.
type Target =
    { Name: string
      Measured: float
      Bound: float }

    /// True when the measured figure is within its bound.
    member t.Holds = t.Measured <= t.Bound

/// The targets in one line, as the report prints them before checking them.
let summary =
    $"sim_ratio <= {SimRatioMax:F1} for T >= {SimRatioFromT} and <= naive_ratio; "
    + $"clip and noisy-QC epochs <= {TrainEpochRatioMax} x ReLU; phase2_share <= {Phase2ShareMax}; "
    + $"peak at T=32 <= {PeakAtT32MaxMb:F0} MB"

/// Every target over the merged simulation figures (one per T), the training figures,
/// phase2_share and the simulator's peak at T = 32 (MB), in the order they are reported.
let all (sims: JsonObject list) (train: JsonObject) (phase2Share: float) (peakAtT32Mb: float) : Target list =
    [ for s in sims do
          let t = int (num s "T")

          if t >= SimRatioFromT then
              { Name = $"sim_ratio(T={t}) <= {SimRatioMax:F1}"
                Measured = num s "ratio"
                Bound = SimRatioMax }

          { Name = $"sim_ratio(T={t}) <= naive_ratio"
            Measured = num s "ratio"
            Bound = num s "naive_ratio" }
      { Name = $"clip epoch <= {TrainEpochRatioMax} x ReLU"
        Measured = num train "clip"
        Bound = TrainEpochRatioMax }
      { Name = $"noisy-QC epoch <= {TrainEpochRatioMax} x ReLU"
        Measured = num train "noisy_qc"
        Bound = TrainEpochRatioMax }
      { Name = $"phase2_share <= {Phase2ShareMax}"
        Measured = phase2Share
        Bound = Phase2ShareMax }
      { Name = $"peak working set at T=32 <= {PeakAtT32MaxMb:F0} MB"
        Measured = peakAtT32Mb
        Bound = PeakAtT32MaxMb } ]
