#!/bin/sh
# Runs the doodles image (inst/docker/Dockerfile) on the GPUs, after the article's run script.
# The folders db, data, models and logs under the current directory are mounted into the
# container, so the database, the checkpoints and the logs outlive it.
#   run.sh                      train with the defaults (Rscript /app/train_nn.R)
#   run.sh -m resnet50 -c -n 2  train with these options (see run.sh --help)
#   run.sh predict <options>    write a submission (see run.sh predict --help)
#   run.sh bash                 an interactive shell in the container
# DOCKER_ARGS adds docker run options, e.g. DOCKER_ARGS="--network host" for a worker of a
# multi-worker training (train_nn.R --workers), whose port the other hosts must reach.
DBDIR=${PWD}/db
LOGSDIR=${PWD}/logs
MODELDIR=${PWD}/models
DATADIR=${PWD}/data
mkdir -p "${DBDIR}" "${LOGSDIR}" "${MODELDIR}" "${DATADIR}"
ARGS="--gpus all --rm -v ${DBDIR}:/db -v ${LOGSDIR}:/app/logs -v ${MODELDIR}:/app/models -v ${DATADIR}:/app/data ${DOCKER_ARGS}"
if [ -z "$1" ]; then
  CMD="Rscript /app/train_nn.R"
elif [ "$1" = "bash" ]; then
  ARGS="${ARGS} -ti"
  CMD="bash"
elif [ "$1" = "predict" ]; then
  shift
  CMD="Rscript /app/predict.R $*"
else
  CMD="Rscript /app/train_nn.R $*"
fi
exec docker run ${ARGS} "${IMAGE:-doodles}" ${CMD}
