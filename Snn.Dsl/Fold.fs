/// Batch-norm folding (PAPER.md Phase I step 2): every BN is absorbed into the conv or linear
/// right before it, so the network computes the same function in evaluation mode without BN.
namespace Snn.Dsl

open TorchSharp

module Fold =

    /// The spec without batch norm: each BN is dropped and the conv / linear before it gets a
    /// bias; residual blocks become blocks without BN (their convs have biases).
    let foldSpec (spec: NetworkSpec) : NetworkSpec =
        let rec go layers =
            match layers with
            | Conv c :: BatchNorm :: rest -> Conv { c with Bias = true } :: go rest
            | Linear l :: BatchNorm :: rest -> Linear { l with Bias = true } :: go rest
            | Residual r :: rest -> Residual { r with BatchNorm = false } :: go rest
            | layer :: rest -> layer :: go rest
            | [] -> []

        { spec with Layers = go spec.Layers }

    /// Folds one BN into the weighted layer before it. With s = gamma / sqrt(running_var + eps):
    /// W' = W * s (per output channel / feature), b' = (b - running_mean) * s + beta,
    /// computed in float64 and written into the target's parameters.
    let private foldInto (weighted: torch.nn.Module) (batchNorm: Modules.BatchNorm) (target: torch.nn.Module) =
        use scope = torch.NewDisposeScope()
        use _ = torch.no_grad ()

        let weightOf (m: torch.nn.Module) : torch.Tensor * torch.Tensor option =
            match m with
            | :? Modules.Conv2d as c -> c.weight, Option.ofObj c.bias |> Option.map (fun b -> b :> torch.Tensor)
            | :? Modules.Linear as l -> l.weight, Option.ofObj l.bias |> Option.map (fun b -> b :> torch.Tensor)
            | other ->
                invalidArg "weighted" $"expected a Conv2d or Linear before batch norm, got %s{other.GetType().Name}"

        let w, b = weightOf weighted
        let w64 = w.to_type torch.ScalarType.Float64
        let mean = batchNorm.running_mean.to_type torch.ScalarType.Float64
        let var = batchNorm.running_var.to_type torch.ScalarType.Float64
        let gamma = batchNorm.weight.to_type torch.ScalarType.Float64
        let beta = batchNorm.bias.to_type torch.ScalarType.Float64
        let s = gamma / var.add(batchNorm.eps.ToScalar()).sqrt ()
        let view = Array.append [| -1L |] (Array.create (int (w.dim () - 1L)) 1L)
        let w' = w64 * s.view view

        let b64 =
            match b with
            | Some b -> b.to_type torch.ScalarType.Float64
            | None -> torch.zeros_like mean

        let b' = (b64 - mean) * s + beta

        match weightOf target with
        | tw, Some tb ->
            tw.copy_ (w') |> ignore
            tb.copy_ (b') |> ignore
        | _, None -> invalidArg "target" "the folded layer must have a bias"

    /// A new network without batch norm that computes, in evaluation mode, what `network`
    /// computes in evaluation mode (BN uses its running statistics). Activations, thresholds and
    /// every other parameter are copied; `network` is unchanged. The result is in evaluation mode,
    /// on `network`'s device.
    let foldBatchNorm (network: CompiledNetwork) : CompiledNetwork =
        let folded =
            match Compile.compile network.Activation (foldSpec network.Spec) with
            | Ok n -> n
            | Error es -> invalidArg "network" (es |> List.map _.Message |> String.concat "; ")

        folded.``to`` (network.parameters () |> Seq.head |> _.dtype) |> ignore
        Compile.toDevice (Compile.deviceOf network) folded |> ignore
        let targets = folded.Leaves |> List.map (fun l -> l.Name, l.Module) |> Map.ofList

        let rec go (leaves: CompiledLayer list) =
            match leaves with
            | w :: b :: rest when b.Layer = BatchNorm ->
                foldInto w.Module (b.Module :?> Modules.BatchNorm) targets[w.Name]
                go rest
            | l :: rest ->
                match targets.TryFind l.Name with
                | Some t when l.Layer <> BatchNorm -> Compile.copyMatching l.Module t |> ignore
                | _ -> ()

                go rest
            | [] -> ()

        go network.Leaves
        folded.eval ()
        folded
