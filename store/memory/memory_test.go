package memory_test

import (
	"testing"

	"github.com/potentialhq/potential/domain"
	"github.com/potentialhq/potential/store/memory"
	"github.com/potentialhq/potential/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) domain.Store { return memory.New() })
}
