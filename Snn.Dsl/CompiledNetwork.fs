/// The TorchSharp modules a compiled network is made of (the activation choice, a named chain, a
/// basic residual block) and the compiled network with its stable, checkpoint-friendly names.
namespace Snn.Dsl

open TorchSharp
open Snn.Core.Activations

/// The activation that fills every `act` of a spec at compile time.
type Activation =
    /// max(x, 0).
    | Relu
    /// clip(x, 0, |theta|) with a learnable theta per layer (Phase I training).
    | Clip of initialThreshold: float
    /// QC_L with half shift, exact in training and evaluation (the QCFS activation). It trains with
    /// the rounding passed straight through before the clip, as the QCFS code's MyFloor does (and
    /// PAPER.md's expression): with the clip first the thresholds fell far more slowly (issue 16).
    | QC of levels: int * initialThreshold: float
    /// QC_L in evaluation; in training each activation stays unrounded with probability p.
    | NoisyQC of levels: int * initialThreshold: float * p: float

/// Runs named child modules in order.
type Chain(name: string, children: (string * torch.nn.Module<torch.Tensor, torch.Tensor>) list) as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>(name)

    do
        for n, m in children do
            this.register_module (n, m) |> ignore

    /// The children in execution order.
    member _.Children = children

    override _.forward(x: torch.Tensor) =
        children |> List.fold (fun t (_, m) -> m.forward t) x

/// A basic residual block: act2(body(x) + shortcut(x)); an empty shortcut is the identity.
type BasicBlock
    (
        name: string,
        body: (string * torch.nn.Module<torch.Tensor, torch.Tensor>) list,
        shortcut: (string * torch.nn.Module<torch.Tensor, torch.Tensor>) list,
        finalActivation: torch.nn.Module<torch.Tensor, torch.Tensor>
    ) as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>(name)
    let shortcutChain = new Chain("shortcut", shortcut)

    do
        for n, m in body do
            this.register_module (n, m) |> ignore

        if not shortcut.IsEmpty then
            this.register_module ("shortcut", shortcutChain) |> ignore

        this.register_module ("act2", finalActivation) |> ignore

    member _.Body = body
    member _.Shortcut = shortcut
    member _.FinalActivation = finalActivation

    override _.forward(x: torch.Tensor) =
        use scope = torch.NewDisposeScope()
        let b = body |> List.fold (fun t (_, m) -> m.forward t) x
        let s = if shortcut.IsEmpty then x else shortcutChain.forward x
        finalActivation.forward(b + s).MoveToOuterDisposeScope()

/// One compiled layer. `Name` is its path in the state dict ("conv1", "layer2.0.shortcut.0");
/// `Layer` is the spec layer it came from (its kind and hyper-parameters); `Index` is the spec
/// layer's index (the parts of a residual block share their block's index); `Children` are a
/// residual block's parts in execution order: conv1, bn1, act1, conv2, bn2, shortcut.0,
/// shortcut.1, act2 (bn and shortcut parts only where present).
type CompiledLayer =
    { Name: string
      Layer: Layer
      Index: int
      InputShape: Shape
      OutputShape: Shape
      Module: torch.nn.Module<torch.Tensor, torch.Tensor>
      Children: CompiledLayer list }

/// A compiled network: a TorchSharp module plus its spec, activation and layer list.
type CompiledNetwork
    (
        info: NetworkInfo,
        activation: Activation,
        top: (string * torch.nn.Module<torch.Tensor, torch.Tensor>) list,
        layers: CompiledLayer list
    ) as this =
    inherit torch.nn.Module<torch.Tensor, torch.Tensor>("network")

    do
        for n, m in top do
            this.register_module (n, m) |> ignore

    /// The validated spec with its shapes.
    member _.Info = info
    member _.Spec = info.Spec
    member _.Activation = activation

    /// Top-level layers in order; residual blocks appear once, with their parts as Children.
    member _.Layers = layers

    /// Every leaf layer in execution order, residual blocks expanded into their parts.
    member _.Leaves =
        layers
        |> List.collect (fun l -> if l.Children.IsEmpty then [ l ] else l.Children)

    override _.forward(x: torch.Tensor) =
        use scope = torch.NewDisposeScope()
        (top |> List.fold (fun t (_, m) -> m.forward t) x).MoveToOuterDisposeScope()
