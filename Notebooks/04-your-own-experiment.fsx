(**
# 04 · Bring your own experiment

A template for an experiment of your own: declare a network, write a pipeline step that the
library does not have (here: magnitude pruning), run the pipeline twice, with and without that
step, and compare the two runs' reports side by side: accuracy against T, the error terms per
layer, and energy.

The runs are deliberately small (a two-conv network, 1,024 training images, one epoch per
training step, 256 test images), so that they finish in a few minutes; their folders are
`Notebooks/runs/own-baseline` and `Notebooks/runs/own-pruned` (git-ignored). Running the
notebook again resumes from them; change a step and only that step and what depends on it
runs again.
*)

#r "nuget: Snn.Dsl"
#load "Setup.fsx"
open Setup

// ----

#r "nuget: Plotly.NET, 6.0.0"
#r "nuget: Plotly.NET.Interactive, 6.0.0"
#load "Charts.fsx"
open Charts
open Plotly.NET
open TorchSharp
open Snn.Dsl
open Snn.Dsl.Steps
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps

(**
## Your network

Any network the DSL validates: convolutions, batch norm, `act` (the activation slot that each
stage fills: ReLU, clip, quantize-clip), pooling, linear layers, residual blocks. Batch norm
directly after a conv or linear layer is folded before conversion.
*)

let net =
    input (1, 28, 28)
    --> conv 16 --> bn --> act --> avgPool 2
    --> conv 32 --> bn --> act --> avgPool 2
    --> flatten --> linear 64 --> act --> linear 10

match Network.validate net with
| Ok info -> printfn "%d layers, %d parameters" info.Layers.Length info.Parameters
| Error errors -> failwithf "invalid network: %A" (errors |> List.map _.Message)

(**
## A step of your own: magnitude pruning

The step zeroes the fraction of smallest |w| of every conv and linear weight of the folded clip
ANN, and records how many weights it zeroed. It declares that it needs the clip ANN (with batch
norm folded) and makes a new version of it, so validation places it and every later step works
on the pruned network. The QC fine-tuning that follows has no mask: it may move pruned weights
away from zero again, as a fine-tune after pruning usually does.
*)

type PruneParameters = { Fraction: float }

let prune: StepDefinition<PruneParameters> =
    { Name = "prune"
      Parameters =
        Json.Codec.record (fun f -> { Fraction = f })
        |> Json.Codec.field "fraction" _.Fraction Json.Codec.float
      Label = fun p -> $"prune {p.Fraction}"
      Problems =
        fun p ->
            [ if not (p.Fraction >= 0.0 && p.Fraction < 1.0) then
                  $"fraction = %g{p.Fraction} is out of range: expected [0, 1)" ]
      Declare =
        fun _ state ->
            match Declare.ann ClipAnn state with
            | Error e -> Declare.fromProblems [ e ]
            | Ok info ->
                { Declare.none with
                    Needs = [ Network ClipAnn ]
                    Makes = [ Network ClipAnn, AnnDescriptor info ]
                    Records = true }
      Run =
        fun p ctx ->
            let ann = ctx.Ann ClipAnn
            let mutable zeroed = 0L
            use _ = torch.no_grad ()

            for KeyValue(name, w) in ann.state_dict () do
                if name.EndsWith ".weight" && w.dim () > 1L then
                    let k = max 1L (int64 (p.Fraction * float (w.numel ())))
                    let struct (cut, _) = w.abs().flatten().kthvalue (k, 0L, false)
                    use mask = w.abs().le cut
                    zeroed <- zeroed + mask.sum().item<int64> ()
                    w.masked_fill_ (mask, 0.0) |> ignore

            ctx.Log $"prune: zeroed {zeroed} weights"
            ctx.Put(Network ClipAnn, AnnValue ann, [ CustomRecord("prune", System.Text.Json.Nodes.JsonValue.Create zeroed) ]) }

(**
## Two pipelines, two runs

The same dual-phase pipeline, once as it is and once with the pruning step after the folding.
Validation runs before any tensor exists and names every problem at once: try moving `prune`
before `trainClip`.
*)

let timeSteps = [ 1; 2; 4 ]
let potential = CalibratePotential.step 128

let weights =
    LayerStep.create
        CalibrateWeights.definition
        { CalibrateWeights.defaults with
            Epochs = 1
            CalibrationImages = 128
            EarlyStoppingImages = 64 }

let pipeline (extra: IStep list) =
    [ Step.create TrainClip.definition { TrainClip.defaults with Epochs = 1; InitialThreshold = 2.0 }
      foldBatchNorm
      yield! extra
      fineTuneQC timeSteps 1
      convert
      evaluate timeSteps
      phaseTwo [ potential; weights; potential ]
      evaluate timeSteps
      report ]

let experiment name (extra: IStep list) =
    { Name = name
      Data =
        { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
          Path = None
          TrainImages = Some 1024
          TestImages = Some 256
          HeldOut = None
          EvalBatchSize = None }
      Network = CustomNetwork net
      Pipeline = pipeline extra
      Seed = 0
      Seeds = []
      OutputFolder = System.IO.Path.Combine(runsFolder, name)
      Profile = Custom "notebook"
      Device = "cpu" }

let options: Runner.RunOptions =
    { OutputFolder = None
      DataPath = None
      Progress = ConsoleLines() }

let experiments =
    [ experiment "own-baseline" []
      experiment "own-pruned" [ Step.create prune { Fraction = 0.6 } ] ]

for e in experiments do
    match Plan.problems net None e.Pipeline with
    | [] -> Runner.run options e |> ignore
    | problems -> failwithf "%s: %A" e.Name (problems |> List.map _.Message)

(**
## The two reports

Each run folder holds `report.md`, `results.json` and PNG plots; `Pipeline.Run` reads a finished
run back (experiment, results, the steps' records, the networks). The pruning step's record:
*)

let runs = [ for e in experiments -> e.Name, Run e.OutputFolder ]

for name, run in runs do
    for r in run.Records do
        match r with
        | CustomRecord("prune", v) -> printfn "%s: prune zeroed %d weights" name (v.GetValue<int64>())
        | _ -> ()

Show.table
    [ "run"; "T"; "Phase I (%)"; "dual-phase final (%)"; "SOPs / image"; "E_ANN / E_SNN" ]
    [ for name, run in runs do
          for d in run.Results.DualPhase |> Array.sortBy _.T ->
              [ name; string d.T; f2 d.Snn.Phase1; f2 d.Snn.Final; sci d.SopsPerImage; f2 d.EnergyRatio ] ]

(**
### Accuracy against T

Phase I (the QC fine-tuned ANN converted) dashed, after Phase II solid; one colour per run.
*)

let colours = [ Color.fromHex "#1f77b4"; Color.fromHex "#d62728" ]

[ for (name, run), colour in List.zip runs colours do
      let dual = run.Results.DualPhase |> Array.sortBy _.T
      let ts = dual |> Array.map (fun d -> float d.T)

      Chart.Line(
          ts,
          dual |> Array.map _.Snn.Phase1,
          Name = $"{name}: Phase I",
          ShowMarkers = true,
          MarkerSymbol = StyleParam.MarkerSymbol.Square,
          LineDash = StyleParam.DrawingStyle.Dash,
          LineColor = colour,
          MarkerColor = colour
      )

      Chart.Line(
          ts,
          dual |> Array.map _.Snn.Final,
          Name = $"{name}: dual-phase",
          ShowMarkers = true,
          MarkerSymbol = StyleParam.MarkerSymbol.Circle,
          LineColor = colour,
          MarkerColor = colour
      ) ]
|> Chart.combine
|> Chart.withTitle "test accuracy vs time steps"
|> Chart.withXAxisStyle (TitleText = "time steps T", AxisType = StyleParam.AxisType.Log)
|> Chart.withYAxisStyle (TitleText = "test accuracy (%)")
|> Chart.withSize (900, 450)
|> show "04-accuracy-vs-T"

(**
### The error terms per layer, side by side

Mean |error| per layer of the final SNN at T = 2 (PAPER.md's decomposition r − ReLU(z) =
residual + quantization + clipping), one panel per run on a shared y axis.
*)

let errorPanel (name: string, run: Run) =
    let entry = run.Results.DualPhase |> Array.find (fun d -> d.T = 2)
    let layers = entry.Layers |> Array.filter (fun l -> l.Stage = "final")
    let names = layers |> Array.map _.Name

    [ Chart.Column(names, layers |> Array.map _.ResidualMeanAbs, Name = $"{name}: residual", MarkerColor = Color.fromHex "#1f77b4")
      Chart.Column(names, layers |> Array.map _.QuantizationMeanAbs, Name = $"{name}: quantization", MarkerColor = Color.fromHex "#ff7f0e")
      Chart.Column(names, layers |> Array.map _.ClippingMeanAbs, Name = $"{name}: clipping", MarkerColor = Color.fromHex "#2ca02c") ]
    |> Chart.combine
    |> Chart.withXAxisStyle (TitleText = name)

runs
|> List.map errorPanel
|> Chart.Grid(1, 2)
|> Chart.withTitle "mean |error| per layer, final SNN, T = 2"
|> Chart.withYAxisStyle (TitleText = "mean |error|")
|> Chart.withSize (1000, 450)
|> show "04-errors-per-layer"

(**
### Energy

Energy per image against T (0.9 pJ per SOP, 4.6 pJ per MAC of the first layer, which receives
the analog image at every step), with each run's ANN as the reference.
*)

let energy = Snn.Core.Energy.EnergyModel.Default

[ for (name, run), colour in List.zip runs colours do
      let dual = run.Results.DualPhase |> Array.sortBy _.T
      let ts = dual |> Array.map (fun d -> float d.T)
      let snnNj (d: Reporting.Results.DualPhaseEntry) = energy.SnnEnergy(d.SopsPerImage, d.FirstLayerMacsPerImage, d.T) / 1000.0
      // E_ANN / E_SNN is recorded per T, so E_ANN = E_SNN * ratio (the same at every T).
      let annNj = snnNj dual[0] * dual[0].EnergyRatio

      Chart.Line(
          [ ts[0]; ts[ts.Length - 1] ],
          [ annNj; annNj ],
          Name = $"{name}: ANN, {f2 annNj} nJ",
          LineDash = StyleParam.DrawingStyle.Dot,
          LineColor = colour
      )

      Chart.Line(
          ts,
          dual |> Array.map snnNj,
          Name = $"{name}: SNN",
          ShowMarkers = true,
          MarkerSymbol = StyleParam.MarkerSymbol.Circle,
          LineColor = colour,
          MarkerColor = colour
      ) ]
|> Chart.combine
|> Chart.withTitle "energy per image vs time steps"
|> Chart.withXAxisStyle (TitleText = "time steps T", AxisType = StyleParam.AxisType.Log)
|> Chart.withYAxisStyle (TitleText = "energy per image (nJ)")
|> Chart.withSize (900, 450)
|> show "04-energy-vs-T"
