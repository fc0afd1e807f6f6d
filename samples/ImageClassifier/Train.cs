using Accelerate;
using Accelerate.Tracking;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageClassifier;

/// <summary>
/// A CNN on an image-like synthetic data set: noisy 1×16×16 images of horizontal (class 0) or
/// vertical (class 1) stripes. Every process trains on its own share of the images; the loss of
/// each epoch, averaged over the processes, goes to TensorBoard (<c>tensorboard --logdir runs</c>).
/// </summary>
public static class Train
{
    [TrainingFunction]
    public static int Run(Accelerator accelerator, string[] args)
    {
        var epochs = args.Length > 0 ? int.Parse(args[0]) : 3;

        random.manual_seed(7);
        var (images, labels) = StripeImages(1024);
        var inputs = accelerator.SplitRowsBetweenProcesses(images).to(accelerator.Device);
        var targets = accelerator.SplitRowsBetweenProcesses(labels).to(accelerator.Device);

        var network = nn.Sequential(
            ("conv1", nn.Conv2d(1, 8, 3, padding: 1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(8, 16, 3, padding: 1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()), ("classifier", nn.Linear(16 * 4 * 4, 2)));
        var (model, optimizer) = accelerator.Prepare(network, optim.SGD(network.parameters(), learningRate: 0.05, momentum: 0.9));
        accelerator.InitTrackers("image_classifier", new Dictionary<string, object?> { ["lr"] = 0.05, ["momentum"] = 0.9, ["epochs"] = epochs });

        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            var lossSum = 0.0;
            var batches = 0;
            for (var start = 0; start < (int)inputs.shape[0]; start += 32)
            {
                var end = Math.Min(start + 32, (int)inputs.shape[0]);
                optimizer.zero_grad();
                var loss = nn.functional.cross_entropy(model.forward(inputs[start..end]), targets[start..end]);
                accelerator.Backward(loss);
                optimizer.step();
                lossSum += loss.ToSingle();
                batches++;
            }
            // Every process calls Log: the mean reduces the processes' losses into one number.
            accelerator.Log(new Dictionary<string, double> { ["train_loss"] = lossSum / batches }, step: epoch, reduce: MetricReduction.Mean);
        }

        // Accuracy on a fresh test set, split between the processes and gathered back.
        using var _ = no_grad();
        var (testImages, testLabels) = StripeImages(256);
        var correct = model.forward(accelerator.SplitRowsBetweenProcesses(testImages).to(accelerator.Device)).argmax(1)
            .eq(accelerator.SplitRowsBetweenProcesses(testLabels).to(accelerator.Device));
        var accuracy = accelerator.GatherForMetrics(correct).to_type(ScalarType.Float32).mean().item<float>();
        accelerator.Log(new Dictionary<string, double> { ["test_accuracy"] = accuracy }, step: epochs);
        Console.WriteLine($"process {accelerator.ProcessIndex}/{accelerator.NumProcesses} done: test accuracy {accuracy:P1}");
        return accuracy > 0.9f ? 0 : 1;
    }

    private static (Tensor Images, Tensor Labels) StripeImages(int count)
    {
        var labels = randint(0, 2, count, dtype: ScalarType.Int64);
        var stripes = (arange(16) % 4 < 2).to_type(ScalarType.Float32);
        var horizontal = stripes.view(16, 1).expand(16, 16);
        var vertical = stripes.view(1, 16).expand(16, 16);
        var images = where(labels.view(-1, 1, 1).eq(0), horizontal, vertical) + 0.5 * randn(count, 16, 16);
        return (images.unsqueeze(1), labels);
    }
}
