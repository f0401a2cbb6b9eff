using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Snn.Core.Activations;

/// <summary>
/// Learnable clip activation of Phase I (PAPER.md step 1): y = clip(x, 0, |theta|) =
/// min(max(x, 0), |theta|), with one learnable threshold theta per layer. Using |theta| keeps
/// the effective threshold positive; theta receives its gradient by autograd (1 where x &gt; |theta|,
/// times sign(theta); 0 elsewhere).
/// </summary>
public sealed class ClipActivation : nn.Module<Tensor, Tensor>
{
    private readonly Parameter threshold;

    /// <summary>Creates the activation with threshold theta = <paramref name="initialThreshold"/>.</summary>
    /// <param name="initialThreshold">Initial theta, &gt; 0 (the paper uses 5.0).</param>
    /// <param name="name">Module name.</param>
    public ClipActivation(double initialThreshold = 5.0, string name = "clip") : base(name)
    {
        Guard.Positive(initialThreshold, nameof(initialThreshold));
        threshold = nn.Parameter(tensor((float)initialThreshold));
        RegisterComponents();
    }

    /// <summary>The learnable parameter theta (a scalar); the effective threshold is |theta|.</summary>
    public Parameter Threshold => threshold;

    /// <summary>The effective threshold |theta| &gt;= 0 as a double.</summary>
    public double EffectiveThreshold => Math.Abs(threshold.item<float>());

    /// <summary>y = min(max(x, 0), |theta|), elementwise; any input shape.</summary>
    /// <param name="input">x, any shape and real values.</param>
    /// <remarks>
    /// Float32 CPU input runs the fused single-node kernel of <see cref="FusedActivations"/> (same values,
    /// same gradients); other input runs the composite <see cref="Functional.Clip"/>.
    /// </remarks>
    public override Tensor forward(Tensor input) => FusedActivations.Clip(input, threshold);

    /// <summary>The stateless forms of the clip activation.</summary>
    public static class Functional
    {
        /// <summary>clip(x) = min(max(x, 0), |theta|), differentiable in x and theta.</summary>
        /// <param name="input">x, any shape.</param>
        /// <param name="threshold">theta, a tensor broadcastable to x (a scalar per layer or one per neuron); |theta| is used and must be &gt; 0.</param>
        public static Tensor Clip(Tensor input, Tensor threshold)
        {
            using var scope = NewDisposeScope();
            return torch.minimum(nn.functional.relu(input), threshold.abs()).MoveToOuterDisposeScope();
        }
    }
}
