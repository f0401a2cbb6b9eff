using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Training;

/// <summary>
/// Knowledge distillation (Hinton, Vinyals and Dean, "Distilling the Knowledge in a Neural
/// Network", 2015): the student learns from the labels and from a teacher's softened outputs,
/// L = (1 - alpha) CE(s, y) + alpha tau^2 KL(softmax(t / tau) || softmax(s / tau)), with s and t
/// the student's and the teacher's logits, CE the cross-entropy and KL the Kullback-Leibler
/// divergence KL(p || q) = sum_k p_k (log p_k - log q_k), both averaged over the batch. The factor
/// tau^2 keeps the soft term's gradient on the scale of the hard one's as tau grows.
/// </summary>
public static class Distillation
{
    /// <summary>The distillation loss of one batch (scalar; gradients flow into the student's logits only).</summary>
    /// <param name="student">Student logits [B, K].</param>
    /// <param name="teacher">Teacher logits [B, K]; treated as constants (detached).</param>
    /// <param name="labels">Classes [B] (int64, in [0, K)).</param>
    /// <param name="temperature">tau, in (0, +inf): above 1 it softens both distributions.</param>
    /// <param name="alpha">Weight of the soft term, in [0, 1]: 0 is plain cross-entropy, 1 only the teacher's term.</param>
    /// <returns>L &gt;= 0 as above, the mean over the batch.</returns>
    public static Tensor Loss(Tensor student, Tensor teacher, Tensor labels, double temperature, double alpha)
    {
        Check(temperature, alpha);
        if (student.dim() != 2 || !student.shape.SequenceEqual(teacher.shape))
        {
            throw new ArgumentException(
                $"teacher logits [{string.Join(", ", teacher.shape)}] do not match the student's [{string.Join(", ", student.shape)}]: expected the same [B, K]",
                nameof(teacher));
        }

        using var scope = NewDisposeScope();
        var hard = nn.functional.cross_entropy(student, labels);
        var logP = (teacher.detach() / temperature).log_softmax(1);
        var logQ = (student / temperature).log_softmax(1);
        var kl = (logP.exp() * (logP - logQ)).sum(1).mean();
        var loss = hard * (1 - alpha) + kl * (alpha * temperature * temperature);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The distillation objective for <see cref="Trainer.TrainEpoch"/>: for each batch the teacher
    /// runs on the same images in eval mode without gradients, then <see cref="Loss"/>.
    /// </summary>
    /// <param name="teacher">The trained teacher; set to eval mode here (and on every batch); its parameters never change.</param>
    /// <param name="temperature">tau, in (0, +inf).</param>
    /// <param name="alpha">Weight of the soft term, in [0, 1].</param>
    public static TrainingLoss Objective(nn.Module<Tensor, Tensor> teacher, double temperature, double alpha)
    {
        ArgumentNullException.ThrowIfNull(teacher);
        Check(temperature, alpha);
        return (images, logits, labels) =>
        {
            Tensor soft;
            using (no_grad())
            {
                teacher.eval();
                soft = teacher.forward(images);
            }

            return Loss(logits, soft, labels, temperature, alpha);
        };
    }

    private static void Check(double temperature, double alpha)
    {
        Guard.Positive(temperature, nameof(temperature));
        if (!(alpha >= 0 && alpha <= 1))
        {
            throw new ArgumentException($"alpha = {alpha} is out of range: expected [0, 1]", nameof(alpha));
        }
    }
}
