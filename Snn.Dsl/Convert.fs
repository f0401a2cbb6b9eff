/// Conversion of a trained, batch-norm-folded Clip / QC network into a spiking network
/// (PAPER.md): every activation becomes integrate-and-fire neurons whose threshold is the
/// learned |theta|, with v(0) = theta / 2 by default; average pooling and flatten fold into the
/// next synapse; the last linear layer accumulates; a residual block's two paths add their
/// currents into the block's output neuron.
namespace Snn.Dsl

open System
open TorchSharp
open Snn.Core.Activations
open Snn.Core.Simulation

/// How to convert.
type ConversionOptions =
    {
        /// Replace max pooling by average pooling of the same window instead of refusing it.
        ReplaceMaxPool: bool
        /// v(0) = share * theta; the paper's half shift is 0.5.
        InitialPotentialShare: float
    }

    static member Default =
        { ReplaceMaxPool = false
          InitialPotentialShare = 0.5 }

/// The average pooling folded into a synapse: window, stride, zero padding (padded zeros count).
type private Window =
    { Kernel: int
      Stride: int
      Padding: int }

    static member None = { Kernel = 1; Stride = 1; Padding = 0 }

    /// The windows tile the input (stride = window, no padding): such pools compose into one.
    member this.Tiles = this.Stride = this.Kernel && this.Padding = 0

    /// This pooling, then `next`: tiling pools compose (k1 k2); any other pair is refused by
    /// conversion's layer rules before a synapse is built.
    member this.Then(next: Window) =
        if this = Window.None then
            next
        elif next = Window.None then
            this
        elif this.Tiles && next.Tiles then
            { Kernel = this.Kernel * next.Kernel
              Stride = this.Stride * next.Stride
              Padding = 0 }
        else
            invalidArg "next" $"pooling %A{this} then %A{next} does not fold into one window"

module Convert =

    let private thresholdOf (l: CompiledLayer) =
        match l.Module with
        | :? ClipActivation as c -> Some c.EffectiveThreshold
        | :? QuantizeClipActivation as q -> Some q.EffectiveThreshold
        | _ -> None

    let private weights (m: torch.nn.Module<torch.Tensor, torch.Tensor>) =
        match m with
        | :? Modules.Conv2d as c -> c.weight.detach (), (Option.ofObj c.bias |> Option.map (fun b -> b.detach ()))
        | :? Modules.Linear as l -> l.weight.detach (), (Option.ofObj l.bias |> Option.map (fun b -> b.detach ()))
        | other -> invalidArg "m" $"expected a Conv2d or Linear module, got %s{other.GetType().Name}"

    let private synapse (l: CompiledLayer) (pool: Window) (flatten: bool) =
        let w, b = weights l.Module
        let bias = b |> Option.toObj

        let k, stride, padding =
            int64 pool.Kernel, Nullable(int64 pool.Stride), int64 pool.Padding

        match l.Layer with
        | Conv c ->
            Synapse.Conv2d(
                w,
                bias,
                int64 c.Stride,
                int64 c.Padding,
                k,
                int64 c.Dilation,
                int64 c.Groups,
                stride,
                padding
            )
        | Linear _ -> Synapse.Linear(w, bias, flatten, k, stride, padding)
        | other -> invalidArg "l" $"expected conv or linear, got %s{other.KindName}"

    /// The reasons a list of (index, layer) cannot be converted, by the layer rules alone.
    let private layerProblems (options: ConversionOptions) (layers: (int * Layer) list) =
        let err i (l: Layer) p =
            { Index = Some i
              Layer = l.Description
              Problem = p }

        let weighted (l: Layer) =
            match l with
            | Conv _
            | Linear _
            | Residual _ -> true
            | _ -> false

        let pooling (l: Layer) =
            match l with
            | AvgPool _
            | MaxPool _
            | GlobalAvgPool -> true
            | _ -> false

        [ for k, (i, l) in List.indexed layers do
              let followedByWeighted () =
                  layers |> List.skip (k + 1) |> List.exists (snd >> weighted)

              // The other pooling layers folded into the same synapse: those between the weighted
              // layer (or activation) before and the weighted layer after.
              let samePoolRun () =
                  let after =
                      layers
                      |> List.skip (k + 1)
                      |> List.takeWhile (fun (_, n) -> not (weighted n || n = Act))

                  let before =
                      layers
                      |> List.take k
                      |> List.rev
                      |> List.takeWhile (fun (_, n) -> not (weighted n || n = Act))

                  before @ after |> List.exists (snd >> pooling)

              match l with
              | BatchNorm -> yield err i l BatchNormNotFolded
              | Residual r when r.BatchNorm -> yield err i l BatchNormNotFolded
              | MaxPool _ when not options.ReplaceMaxPool -> yield err i l MaxPoolNotConvertible
              | MaxPool p
              | AvgPool p when (p.Stride <> p.Kernel || p.Padding <> 0) && samePoolRun () ->
                  yield err i l (PoolNotFoldable(p.Kernel, p.Stride, p.Padding))
              | AvgPool _
              | MaxPool _
              | GlobalAvgPool
              | Flatten when not (followedByWeighted ()) -> yield err i l NothingToFoldInto
              | _ -> () ]

    /// Every reason this network cannot be converted as it is, all at once.
    let problems (options: ConversionOptions) (network: CompiledNetwork) : ValidationError list =
        layerProblems options (network.Layers |> List.map (fun l -> l.Index, l.Layer))
        @ [ for l in network.Leaves do
                if l.Layer = Act && (thresholdOf l).IsNone then
                    { Index = Some l.Index
                      Layer = l.Layer.Description
                      Problem = NoThreshold(l.Module.GetType().Name) } ]

    /// Every reason a network of this spec and activation could not be converted, before any
    /// tensor exists: the layer rules of `problems`, an activation without a threshold (ReLU), and
    /// a network without activations (nothing would become a spiking neuron).
    let specProblems (options: ConversionOptions) (spec: NetworkSpec) (activation: Activation) : string list =
        let layers = List.indexed spec.Layers

        let activations =
            spec.Layers
            |> List.exists (function
                | Act
                | Residual _ -> true
                | _ -> false)

        (layerProblems options layers |> List.map _.Message)
        @ [ if not activations then
                "the network has no activations: nothing would become a spiking neuron"
            if activation = Relu && activations then
                "the activations are ReLU, which have no threshold: convert a network trained with clip or QC activations" ]

    /// The spiking network equivalent of `network` (folded, with Clip or QC activations), or
    /// every problem at once, on the network's device. The caller owns (disposes) the result.
    let toSpiking
        (options: ConversionOptions)
        (network: CompiledNetwork)
        : Result<SpikingNetwork, ValidationError list> =
        match problems options network with
        | _ :: _ as es -> Error es
        | [] ->
            use _ = torch.no_grad ()

            let inputShape =
                match network.Info.Spec.Input with
                | Image(c, h, w) -> [| int64 c; int64 h; int64 w |]
                | Vector n -> [| int64 n |]

            let builder = SpikingNetworkBuilder(inputShape)
            // Thresholds beside the weights: the spiking network lives on the ANN's device.
            let device = Compile.deviceOf network

            let theta (l: CompiledLayer) =
                torch.tensor ((thresholdOf l).Value, device = device)

            let v0 (t: torch.Tensor) = t * options.InitialPotentialShare
            let mutable pool = Window.None
            let mutable flatten = false
            let mutable pending: (CompiledLayer * Synapse) option = None

            let spatial (s: Shape) =
                match s with
                | Image(_, h, _) -> h
                | Vector _ -> 1

            for l in network.Layers do
                match l.Layer with
                | Conv _
                | Linear _ ->
                    match pending with
                    | Some(p, s) -> builder.Output(p.Name, s) |> ignore // unreachable for a valid spec: caught below
                    | None -> ()

                    pending <- Some(l, synapse l pool flatten)
                    pool <- Window.None
                    flatten <- false
                | Act ->
                    let w, s = pending.Value
                    let t = theta l
                    builder.Layer(w.Name, s, t, v0 t) |> ignore
                    pending <- None
                | AvgPool p
                | MaxPool p ->
                    pool <-
                        pool.Then
                            { Kernel = p.Kernel
                              Stride = p.Stride
                              Padding = p.Padding }
                | GlobalAvgPool ->
                    let side = spatial l.InputShape

                    pool <-
                        pool.Then
                            { Kernel = side
                              Stride = side
                              Padding = 0 }

                    flatten <- true
                | Flatten -> flatten <- true
                | Dropout _
                | BatchNorm -> ()
                | Residual _ ->
                    let part name =
                        l.Children |> List.find (fun c -> c.Name = $"%s{l.Name}.%s{name}")

                    let tryPart name =
                        l.Children |> List.tryFind (fun c -> c.Name = $"%s{l.Name}.%s{name}")

                    let main1 = synapse (part "conv1") pool false
                    let main2 = synapse (part "conv2") Window.None false

                    // An identity shortcut after a pooling carries the pooled spikes: P(x), a synapse of
                    // its own (Synapse.PooledIdentity); without a pooling it is the spikes themselves.
                    let shortcut =
                        match tryPart "shortcut.0", l.InputShape with
                        | Some c, _ -> synapse c pool false
                        | None, Image(channels, _, _) when pool <> Window.None ->
                            Synapse.PooledIdentity(
                                int64 channels,
                                int64 pool.Kernel,
                                int64 pool.Stride,
                                int64 pool.Padding,
                                main1.Weight.dtype,
                                main1.Weight.device
                            )
                        | None, _ -> null

                    let t1 = theta (part "act1")
                    let t2 = theta (part "act2")
                    builder.ResidualBlock(l.Name, main1, t1, main2, shortcut, t2) |> ignore
                    pool <- Window.None

            match pending with
            | Some(p, s) -> builder.Output(p.Name, s) |> ignore
            | None -> invalidArg "network" "the network must end in a linear output layer"

            let net = builder.Build()

            // Apply v(0) = share * theta to residual blocks too (the builder's default is theta / 2).
            if options.InitialPotentialShare <> 0.5 then
                for layer in net.Layers do
                    if layer.HasNeuron then
                        use v = layer.Threshold * options.InitialPotentialShare
                        use e = v.expand (layer.NeuronShape)
                        layer.AssignInitialPotential e

            Ok net

    /// Runs the ANN forward layer by layer and hands every activation layer's input to `act`,
    /// which returns that layer's output; the network's output is returned. Residual blocks run
    /// body, shortcut and their final activation in the same order as their own forward. The
    /// order in which `act` is called is the spiking network's order of neuron layers (a residual
    /// block gives its inner act1, then its output act2).
    let forwardThroughActivations
        (network: CompiledNetwork)
        (act: CompiledLayer -> torch.Tensor -> torch.Tensor)
        (images: torch.Tensor)
        : torch.Tensor =
        let mutable x = images

        for l in network.Layers do
            match l.Layer with
            | Act -> x <- act l x
            | Residual _ ->
                let find name =
                    l.Children |> List.find (fun c -> c.Name = $"%s{l.Name}.%s{name}")

                let body =
                    l.Children
                    |> List.takeWhile (fun c -> not (c.Name.Contains ".shortcut." || c.Name.EndsWith ".act2"))

                let mutable b = x

                for c in body do
                    b <- if c.Layer = Act then act c b else c.Module.forward b

                let shortcut = l.Children |> List.filter (fun c -> c.Name.Contains ".shortcut.")

                let s = shortcut |> List.fold (fun t c -> c.Module.forward t) x
                x <- act (find "act2") (b + s)
            | _ -> x <- l.Module.forward x

        x

    /// The activation of every spiking layer of the converted network, computed by the ANN
    /// (in evaluation mode, without gradients): one tensor [B, ...] per neuron layer in the
    /// spiking network's order (a residual block gives its inner act1, then its output act2).
    /// This is the target a_l^ANN of Phase II.
    let annActivations (network: CompiledNetwork) : Func<torch.Tensor, torch.Tensor[]> =
        Func<torch.Tensor, torch.Tensor[]>(fun images ->
            network.eval ()
            use _ = torch.no_grad ()
            let outputs = Collections.Generic.List<torch.Tensor>()

            forwardThroughActivations
                network
                (fun l z ->
                    let y = l.Module.forward z
                    outputs.Add y
                    y)
                images
            |> ignore

            outputs.ToArray())
