using TorchSharp;
using static TorchSharp.torch;

namespace Snn.Core.Training;

/// <summary>Loss and accuracy of one pass over a set of batches.</summary>
/// <param name="Loss">Mean loss per image (cross-entropy unless the pass trained with another <see cref="TrainingLoss"/>), &gt;= 0.</param>
/// <param name="Accuracy">Share of correctly classified images in percent, in [0, 100].</param>
/// <param name="Images">Number of images seen, &gt;= 0.</param>
/// <param name="Seconds">Wall time of the pass, &gt;= 0.</param>
public sealed record PassStats(double Loss, double Accuracy, long Images, double Seconds);

/// <summary>
/// Supervised training and evaluation of an image classifier with cross-entropy loss
/// L = -(1/B) sum_i log softmax(f(x_i))[y_i]. Every batch runs in its own dispose scope.
/// </summary>
public static class Trainer
{
    /// <summary>
    /// One training epoch: for each batch, forward, the loss (cross-entropy unless
    /// <paramref name="loss"/> gives another objective), backward, and an optimizer step with the
    /// learning rate the schedule gives for the global step. Before the first batch
    /// the torch generator is seeded with <paramref name="seed"/> so that stochastic layers (noisy
    /// quantization masks) repeat exactly when an interrupted run resumes at this epoch.
    /// </summary>
    /// <param name="model">The classifier, set to training mode here.</param>
    /// <param name="optimizer">Optimizer over the model's parameters.</param>
    /// <param name="batches">(images [B, C, H, W] float32, labels [B] int64); the caller owns them, this method disposes each after use.</param>
    /// <param name="schedule">Learning rate per global step.</param>
    /// <param name="firstStep">Global step of this epoch's first batch, &gt;= 0.</param>
    /// <param name="seed">Seed for torch's generator for this epoch.</param>
    /// <param name="onBatch">Called after each batch with (batches done, running mean loss).</param>
    /// <param name="loss">The objective per batch; null: cross-entropy.</param>
    public static PassStats TrainEpoch(
        nn.Module<Tensor, Tensor> model,
        optim.Optimizer optimizer,
        IEnumerable<(Tensor Images, Tensor Labels)> batches,
        ILearningRateSchedule schedule,
        long firstStep,
        long seed,
        Action<int, double>? onBatch = null,
        TrainingLoss? loss = null)
    {
        Guard.AtLeast(firstStep, 0, nameof(firstStep), "first global step");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        torch.manual_seed(seed);
        model.train();
        double lossSum = 0;
        long correct = 0, seen = 0;
        var step = firstStep;
        var done = 0;
        foreach (var (images, labels) in batches)
        {
            using var scope = NewDisposeScope();
            scope.Attach(images);
            scope.Attach(labels);
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = schedule.RateAt(step);
            }

            optimizer.zero_grad();
            var logits = model.forward(images);
            var objective = loss is null ? nn.functional.cross_entropy(logits, labels) : loss(images, logits, labels);
            objective.backward();
            optimizer.step();
            var n = labels.shape[0];
            lossSum += objective.item<float>() * n;
            correct += logits.argmax(1).eq(labels).sum().item<long>();
            seen += n;
            step++;
            done++;
            onBatch?.Invoke(done, lossSum / seen);
        }

        return new PassStats(seen == 0 ? 0 : lossSum / seen, seen == 0 ? 0 : 100.0 * correct / seen, seen, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Evaluates the model (in eval mode, without gradients) on the batches.</summary>
    /// <param name="model">The classifier.</param>
    /// <param name="batches">(images, labels) batches; disposed here after use.</param>
    public static PassStats Evaluate(nn.Module<Tensor, Tensor> model, IEnumerable<(Tensor Images, Tensor Labels)> batches)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        model.eval();
        using var noGrad = no_grad();
        double lossSum = 0;
        long correct = 0, seen = 0;
        foreach (var (images, labels) in batches)
        {
            using var scope = NewDisposeScope();
            scope.Attach(images);
            scope.Attach(labels);
            var logits = model.forward(images);
            var n = labels.shape[0];
            lossSum += nn.functional.cross_entropy(logits, labels).item<float>() * n;
            correct += logits.argmax(1).eq(labels).sum().item<long>();
            seen += n;
        }

        return new PassStats(seen == 0 ? 0 : lossSum / seen, seen == 0 ? 0 : 100.0 * correct / seen, seen, clock.Elapsed.TotalSeconds);
    }
}
