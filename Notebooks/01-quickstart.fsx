(**
# 01 · Quick start: from a network declaration to a low-latency SNN

This walk-through declares BENCHMARKS.md's `fmnist-vgg` network and the dual-phase pipeline with
the F# DSL, runs a deliberately small experiment (2,048 training images of Fashion-MNIST and one epoch per
phase, so it finishes in a few minutes on a laptop), and shows the accuracy of the ANN, the QCFS
baseline and every dual-phase stage against the number of time steps T.

The numbers of such a short run are far from the paper's: the point is the shape of the pipeline.
`snn run --profile quick` (about 20 minutes) or `--profile bench` give meaningful accuracies.

Run this notebook after the README's set-up (`./run.sh` or `./test.sh` once, which builds the
Release binaries). The same walk-through runs without a notebook front end:
`dotnet fsi Notebooks/01-quickstart.fsx`.
*)

// The packages built from this repository: the local feed bin/packages is named by
// Notebooks/nuget.config (elsewhere: #i "nuget: <repository>/bin/packages").
#r "nuget: Snn.Dsl"
#load "Setup.fsx"
open Setup

// ----

// Charts: Plotly.NET, displayed offline (Charts.fsx embeds plotly.js).
#r "nuget: Plotly.NET, 6.0.0"
#r "nuget: Plotly.NET.Interactive, 6.0.0"
#load "Charts.fsx"
open Charts
open Plotly.NET
open Snn.Dsl
open Snn.Dsl.Steps
open Snn.Dsl.Pipeline
open Snn.Dsl.Pipeline.Steps

(**
## The network

`-->` appends a layer; `act` is the activation slot that each stage fills in (ReLU, clip,
quantize-clip). The spec is validated before any tensor exists: every error at once, with layer
index and shapes.
*)

let fmnistVgg =
    input (1, 28, 28)
    --> conv 32 --> bn --> act --> conv 32 --> bn --> act --> avgPool 2
    --> conv 64 --> bn --> act --> conv 64 --> bn --> act --> avgPool 2
    --> conv 128 --> bn --> act --> avgPool 2
    --> flatten --> linear 256 --> act --> linear 10

let info =
    match Network.validate fmnistVgg with
    | Ok info -> info
    | Error errors -> failwithf "invalid network: %A" errors

// ----

Show.table
    [ "layer"; "kind"; "input"; "output"; "parameters" ]
    [ for l in info.Layers ->
          [ string l.Index; l.Layer.KindName; string l.InputShape; string l.OutputShape; string l.Parameters ] ]

let presetParameters =
    match Network.validate Presets.fmnistVgg with
    | Ok i -> i.Parameters
    | Error _ -> -1L

// The preset spells out linear's in-features (linearFrom 1152 256); otherwise the same layers.
printfn "%d parameters (the preset Presets.fmnistVgg: %d)" info.Parameters presetParameters

(**
## The pipeline

The dual-phase method as a list of steps, run in the order written: the ReLU baseline, Phase I
(clip training, batch-norm folding, noisy quantize-clip fine-tuning at L = T), conversion, Phase II
(potential, weight and potential calibration, layer by layer), evaluations after the stages the
report compares, the Phase II ablation, and the QCFS baseline. `dualPhase E F [T...]` builds the full-size list; here every training step gets one
epoch, T is 1 and 2, and Phase II uses 128 calibration and 64 early-stopping images. The learnable
thresholds start at 2.0 instead of the recipe's 5.0 (clip) and 8.0 (QCFS): one short epoch does
not move them far, and a threshold far above the activations quantizes everything to zero at L = 1
or 2. Each step's settings live in its module (`TrainClip.defaults`, `CalibrateWeights.defaults`, ...).
*)

let timeSteps = [ 1; 2 ]
let potential = CalibratePotential.step 128

let weights =
    LayerStep.create
        CalibrateWeights.definition
        { CalibrateWeights.defaults with
            Epochs = 1
            CalibrationImages = 128
            EarlyStoppingImages = 64 }

let pipeline =
    [ trainRelu 1
      Step.create TrainClip.definition { TrainClip.defaults with Epochs = 1; InitialThreshold = 2.0 }
      foldBatchNorm
      evaluateDirect timeSteps
      fineTuneQC timeSteps 1
      convert
      evaluate timeSteps
      ablation [ potential; weights ]
      phaseTwo [ potential; weights; potential ]
      evaluate timeSteps
      Step.create Qcfs.definition { Qcfs.defaults with Epochs = 1; InitialThreshold = 2.0; TimeSteps = timeSteps }
      report ]

match Plan.problems fmnistVgg None pipeline with
| [] -> printfn "pipeline: %s" (pipeline |> List.map (fun p -> p.Name) |> String.concat " -> ")
| errors -> failwithf "invalid pipeline: %A" (errors |> List.map (fun e -> e.Message))

(**
Validation is derived from what each step declares, before any tensor exists, and lists every
problem at once. The same steps in an impossible order (the fine-tuning before anything has
made the clip ANN, conversion before the fine-tuning):
*)

for e in Plan.problems fmnistVgg None [ fineTuneQC timeSteps 1; convert; trainClip 1 ] do
    printfn "%s" e.Message

(**
## The experiment and the run

An experiment is a plain value (it round-trips through JSON). `Runner.run` runs its steps in
order; the report step writes `report.md`, `results.json` and PNG plots into the run folder, and
every finished step is recorded there: running this cell again resumes instead of retraining.
The run folder `Notebooks/runs/quickstart` is shared with notebooks 02 and 03.
*)

let experiment =
    { Name = "fmnist-vgg quick start"
      Data =
        { Dataset = Snn.Core.Data.DatasetDescriptor.FashionMnist
          Path = None
          TrainImages = Some 2048
          TestImages = Some 256
          HeldOut = None
          EvalBatchSize = None }
      Network = CustomNetwork fmnistVgg
      Pipeline = pipeline
      Seed = 0
      Seeds = []
      OutputFolder = System.IO.Path.Combine(runsFolder, "quickstart")
      Profile = Custom "notebook"
      Device = "cpu" }

let options: Runner.RunOptions =
    { OutputFolder = None
      DataPath = None
      Progress = ConsoleLines() }

let results = Runner.run options experiment

(**
The finished steps, read back from the run folder with `Pipeline.Run` (notebook 04 adds a step of
its own to such a pipeline):
*)

let run = Run experiment.OutputFolder
printfn "%s" (run.FinishedSteps |> String.concat " -> ")

(**
## Accuracy against time steps

The ANNs are flat references, labelled with their accuracy; the SNN curves show what each stage of
the method adds: direct conversion of the clip ANN, Phase I (the QC fine-tuned ANN converted), and
Phase II's potential calibration, weight calibration and final potential calibration. Each series
has its own colour, line style and marker; hover for the values.
*)

let dual = results.DualPhase |> Array.sortBy (fun d -> d.T)
let ts = dual |> Array.map (fun d -> float d.T)
let span = [ ts[0]; ts[ts.Length - 1] ]

let stages: (string * (Reporting.Results.StageAccuracies -> float) * StyleParam.MarkerSymbol) list =
    [ "direct conversion", (fun s -> s.Direct), StyleParam.MarkerSymbol.Diamond
      "Phase I (QC fine-tuned)", (fun s -> s.Phase1), StyleParam.MarkerSymbol.Square
      "+ potential calibration", (fun s -> s.Potential), StyleParam.MarkerSymbol.TriangleUp
      "+ weight calibration", (fun s -> s.Weights), StyleParam.MarkerSymbol.Cross
      "dual-phase final", (fun s -> s.Final), StyleParam.MarkerSymbol.Circle ]

let qcfsPoints = results.Qcfs.Snn |> Array.sortBy (fun q -> q.T)

let reference name (accuracy: float) dash =
    Chart.Line(span, [ accuracy; accuracy ], Name = $"{name}: {f2 accuracy} %%", LineDash = dash)

[ reference "ReLU ANN" results.Ann.TestAccuracy StyleParam.DrawingStyle.Dash
  reference "clip ANN (Phase I)" results.ClipAnn.TestAccuracy StyleParam.DrawingStyle.Dot
  Chart.Line(
      qcfsPoints |> Array.map (fun q -> float q.T),
      qcfsPoints |> Array.map (fun q -> q.TestAccuracy),
      Name = $"QCFS SNN (L = {results.Qcfs.L})",
      ShowMarkers = true,
      LineDash = StyleParam.DrawingStyle.DashDot,
      MarkerSymbol = StyleParam.MarkerSymbol.X
  )
  for name, get, symbol in stages do
      Chart.Line(ts, dual |> Array.map (fun d -> get d.Snn), Name = name, ShowMarkers = true, MarkerSymbol = symbol) ]
|> Chart.combine
|> Chart.withTitle $"{results.Splits.Dataset}: test accuracy vs time steps"
|> Chart.withXAxisStyle (TitleText = "time steps T", AxisType = StyleParam.AxisType.Log)
|> Chart.withYAxisStyle (TitleText = "test accuracy (%)")
|> Chart.withSize (900, 500)
|> show "01-accuracy-vs-T"

(**
## The report's table

The same table as in `report.md` (test accuracy in %; the last column is the energy ratio
E_ANN / E_SNN of the final SNN), then the plot the run wrote next to it.
*)

Show.markdownTable (Reporting.Markdown.summaryTable results)

printfn
    "ReLU ANN %s%%, clip ANN %s%%, QCFS QC ANN (L = %d) %s%%; identity max |r - z - (v(0)-v(T))/T| = %s"
    (f2 results.Ann.TestAccuracy)
    (f2 results.ClipAnn.TestAccuracy)
    results.Qcfs.L
    (f2 results.Qcfs.AnnTestAccuracy)
    (sci results.IdentityMaxAbs)

// ----

Show.image (System.IO.Path.Combine(experiment.OutputFolder, "accuracy_vs_T.png"))
