/// Conversion (PAPER.md): each QC ANN fine-tuned at L becomes the spiking network for T = L:
/// integrate-and-fire neurons with the learned thresholds and v(0) = theta / 2.
module Snn.Dsl.Pipeline.Steps.Conversion

open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters = ConversionOptions

let defaults = ConversionOptions.Default

/// The conversion problems of an ANN, with the ANN named.
let problemsOf (options: ConversionOptions) (ann: Ann) (info: AnnInfo) =
    Declare.folded ann info
    @ (if info.HasBatchNorm then
           []
       else
           Convert.specProblems options info.Spec info.Activation
           |> List.map (fun m -> $"cannot convert %s{ann.Description}: %s{m}"))

/// Converts a trained network; the caller owns the result.
let toSpiking (options: ConversionOptions) (net: CompiledNetwork) =
    net.eval ()

    match Convert.toSpiking options net with
    | Ok s -> s
    | Error es -> invalidArg "network" (es |> List.map _.Message |> String.concat "; ")

let definition: StepDefinition<Parameters> =
    { Name = "convert"
      Parameters =
        Codec.record (fun share replace ->
            { InitialPotentialShare = share
              ReplaceMaxPool = replace })
        |> Codec.fieldOr "initial_potential_share" _.InitialPotentialShare Codec.float 0.5
        |> Codec.fieldOr "replace_max_pool" _.ReplaceMaxPool Codec.bool false
      Label = fun p -> $"convert (v(0) = %g{p.InitialPotentialShare} theta)"
      Problems =
        fun p ->
            [ if not (p.InitialPotentialShare >= 0.0 && p.InitialPotentialShare <= 1.0) then
                  $"initial_potential_share = %g{p.InitialPotentialShare} is out of range: expected [0, 1] (v(0) = share x theta)" ]
      Declare =
        fun p s ->
            match Declare.qcAnns s with
            | [] -> Declare.fromProblems [ "needs a QC ANN to convert: add fineTuneQC before convert" ]
            | qcs ->
                { Declare.none with
                    Needs = qcs |> List.map (fun (l, _) -> Network(QcAnn l))
                    Makes =
                        [ for l, info in qcs ->
                              Spiking l,
                              SpikingDescriptor
                                  { Source = QcAnn l
                                    SourceInfo = info
                                    TimeSteps = l
                                    Conversion = p
                                    Lineage = info.Tuning |> List.map SourceTuned } ]
                    Problems = qcs |> List.collect (fun (l, info) -> problemsOf p (QcAnn l) info) }
      Run =
        fun p ctx ->
            for a in ctx.Artifacts do
                match a with
                | Network(QcAnn l) ->
                    let snn = toSpiking p (ctx.Ann(QcAnn l))
                    ctx.Put(Spiking l, SpikingValue snn, [])
                | _ -> () }

/// Converts every QC ANN with v(0) = theta / 2.
let step = Step.create definition defaults
