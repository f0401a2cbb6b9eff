/// Phase I step 2 (PAPER.md): every batch norm folded into the conv / linear before it.
module Snn.Dsl.Pipeline.Steps.FoldBatchNorm

open Snn.Dsl
open Snn.Dsl.Json
open Snn.Dsl.Pipeline

type Parameters =
    {
        /// The ANN to fold (the clip ANN in the paper's pipeline).
        Network: Ann
    }

let defaults = { Network = ClipAnn }

let definition: StepDefinition<Parameters> =
    { Name = "foldBatchNorm"
      Parameters =
        Codec.record (fun a -> { Network = a })
        |> Codec.fieldOr "network" _.Network ArtifactCodec.ann ClipAnn
      Label = fun p -> $"foldBatchNorm (%s{p.Network.Description})"
      Problems = fun _ -> []
      Declare =
        fun p s ->
            match Declare.ann p.Network s with
            | Error e -> Declare.fromProblems [ e ]
            | Ok info ->
                let alreadyFolded =
                    AnnTraining.hasBatchNorm s.Spec
                    && not info.HasBatchNorm
                    && info.Spec = Fold.foldSpec s.Spec

                { Declare.none with
                    Needs = [ Network p.Network ]
                    Makes =
                        [ Network p.Network,
                          AnnDescriptor
                              { info with
                                  Spec = Fold.foldSpec info.Spec
                                  HasBatchNorm = false } ]
                    Problems =
                        [ if alreadyFolded then
                              $"%s{p.Network.Description} has no batch norm left to fold: an earlier step folded it" ] }
      Run =
        fun p ctx ->
            let net = ctx.Ann p.Network

            match ctx.Descriptor(Network p.Network) with
            | AnnDescriptor i when i.HasBatchNorm ->
                let folded = Fold.foldBatchNorm net
                folded.eval ()

                ctx.Put(Network p.Network, AnnValue folded, [])
            | _ ->
                ctx.Log $"{p.Network.Description} has no batch norm: nothing to fold"
                ctx.Put(Network p.Network, AnnValue net, []) }

/// Folds the clip ANN's batch norm.
let step = Step.create definition defaults
